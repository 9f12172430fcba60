"""An error's `param` names what the client sent (`startDate`), never where the gateway read it from
(`query.startDate`), for query strings and JSON bodies alike."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_KEY, COMPLETION_KEY, auth


@pytest.mark.parametrize(
    "name, value", [("startDate", "not-a-date"), ("endDate", "2026-13-40"), ("groupBy", "planet"), ("format", "xml")]
)
def test_a_bad_query_parameter_is_named_as_sent(client, name, value):
    response = client.get("/api/v1/admin/usage", query_string={name: value}, headers=auth(ADMIN_KEY))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["param"] == name, error
    assert error["message"].startswith(f"{name}: ") and "query" not in error["message"]


def test_a_bad_body_field_is_named_as_sent(client):
    response = client.post(
        "/api/v1/completion", json={"model": "openai.gpt-4o-mini", "messages": "hi"}, headers=auth(COMPLETION_KEY)
    )
    assert response.status_code == 400
    assert response.json["error"]["param"] == "messages"
