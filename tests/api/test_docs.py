"""The OpenAPI layer: the gateway's parser comes with its own Blueprint subclass, no library class is patched."""

from __future__ import annotations

import flask_smorest
import pytest

from llmgateway.api.docs import Blueprint
from llmgateway.api.parsing import GatewayArgumentsParser
from tests.conftest import COMPLETION_KEY, auth


def test_the_gateway_parser_is_its_blueprints_own_and_the_library_is_untouched(app):
    assert isinstance(Blueprint.ARGUMENTS_PARSER, GatewayArgumentsParser)
    assert not isinstance(flask_smorest.Blueprint.ARGUMENTS_PARSER, GatewayArgumentsParser)
    api_blueprints = [
        bp for name, bp in app.blueprints.items() if isinstance(bp, flask_smorest.Blueprint) and name != "api-docs"
    ]
    assert api_blueprints and all(isinstance(bp, Blueprint) for bp in api_blueprints)


def test_a_plain_smorest_blueprint_is_refused(app):
    from llmgateway.extensions import api

    with pytest.raises(TypeError, match=r"llmgateway\.api\.docs\.Blueprint"):
        api.register_blueprint(flask_smorest.Blueprint("stray", __name__))


def test_argument_errors_are_the_gateway_envelope(client):
    answer = client.post(
        "/api/v1/completion", json={"model": "gpt-4o-mini", "messages": "not a list"}, headers=auth(COMPLETION_KEY)
    )
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_request_error" or answer.json["error"]["type"] == (
        "invalid_request_error"
    )
    assert answer.json["error"]["param"].startswith("messages")
