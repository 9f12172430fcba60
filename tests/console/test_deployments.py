"""The health page lists each mapped model's deployments as GET /api/v1/admin/deployments reports them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN_KEY, CHAT, auth
from tests.console.helpers import sign_in
from tests.deployments.conftest import pool_config
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def two_upstreams() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    alpha, beta = FakeOpenAI().start(), FakeOpenAI().start()
    yield alpha, beta
    alpha.stop()
    beta.stop()


def test_health_page_shows_the_deployments_the_api_reports(make_app, two_upstreams):
    alpha, beta = two_upstreams
    app = make_app(**pool_config(alpha, beta), circuit_breaker={"fail_max": 1, "reset_timeout": 60})
    client = app.test_client()
    for _ in range(4):
        client.post("/v1/chat/completions", json={**CHAT, "model": "pool"}, headers=auth(ADMIN_KEY))
    for _ in range(3):  # beta fails until its breaker opens (a failed attempt falls over to alpha or errors)
        beta.push("status", status=503)
    for _ in range(6):
        client.post("/v1/chat/completions", json={**CHAT, "model": "pool"}, headers=auth(ADMIN_KEY))
    api = {row["name"]: row for row in client.get("/api/v1/admin/deployments", headers=auth(ADMIN_KEY)).json["data"]}
    assert set(api) == {"alpha/llama-a", "beta/llama-b"}
    sign_in(client)
    page = client.get("/admin/health").text
    table = re.search(r'<table id="deployments">(.*?)</table>', page, re.S)
    assert table, "no deployments table"
    for name, row in api.items():
        cells = re.search(rf'<th scope="row">{re.escape(name)}</th>(.*?)</tr>', table.group(1), re.S)
        assert cells, name
        assert f"state-{row['state']}" in cells.group(1)
        assert f'<td class="num">{row["requests"]}</td>' in cells.group(1)
        assert f"{row['error_rate'] * 100:.1f}%" in cells.group(1)
    assert api["beta/llama-b"]["state"] in ("open", "half_open", "cooling")
    assert "Breaker open" in page or "half-open" in page or "Cooling down" in page


def test_health_page_without_deployments_says_so(client):
    sign_in(client)
    page = client.get("/admin/health").text
    assert 'id="no-deployments"' in page
