"""A self-hosted TGI (`server: tgi`) gets its own tool and JSON formats; configured capabilities decide what a mapped
model may be sent, before any upstream call."""

from __future__ import annotations

import json

import pytest

from tests.fakes.huggingface import FakeHuggingFace
from tests.openai_compat.conftest import LiveGateway
from tests.rich.conftest import ASK, TOOLS, post

TGI_KEY = "tgi-secret"


@pytest.fixture(scope="module")
def _tgi_server():
    server = FakeHuggingFace("tgi", api_key=TGI_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def tgi(_tgi_server):
    _tgi_server.reset()
    return _tgi_server


def gateway(make_app, tgi, **options):
    provider = {"api_key": TGI_KEY, "base_url": tgi.url, "server": "tgi", **options}
    mappings = [
        {
            "model_id": "house-llama",
            "provider": "huggingface",
            "provider_model_id": "tgi",
            "capabilities": ["completion", "tools", "json_schema"],
        },
        {
            "model_id": "house-plain",
            "provider": "huggingface",
            "provider_model_id": "tgi",
            "capabilities": ["completion"],
        },
    ]
    return LiveGateway(make_app(providers={"huggingface": provider}, routing={"model_mappings": mappings}))


def test_tgi_tool_call_and_json_grammar(make_app, tgi):
    live = gateway(make_app, tgi)
    try:
        answer = post(live, "/api/v1/completion", {"model": "house-llama", "messages": ASK, "tools": TOOLS}).json()
        choice = answer["choices"][0]
        assert choice["finish_reason"] == "tool_calls"  # TGI says `stop`; the call makes it `tool_calls`
        [call] = choice["message"]["tool_calls"]
        assert call["id"] == "0" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}

        fmt = {
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        }
        answer = post(
            live, "/v1/chat/completions", {"model": "house-llama", "messages": ASK, "response_format": fmt}
        ).json()
        assert json.loads(answer["choices"][0]["message"]["content"]) == {"city": "Paris"}
        assert tgi.requests[-1]["json"]["response_format"] == {
            "type": "json_schema",
            "value": {"name": "w", "schema": fmt["json_schema"]["schema"]},
        }
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "house-plain", "messages": ASK, "tools": TOOLS}, "tools"),
        (
            {
                "model": "house-plain",
                "messages": ASK,
                "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
            },
            "response_format",
        ),
    ],
)
def test_a_mapping_without_the_capability_is_refused(make_app, tgi, body, param):
    live = gateway(make_app, tgi)
    try:
        response = post(live, "/v1/chat/completions", body)
    finally:
        live.stop()
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == ("unsupported_operation", param)
    assert tgi.requests == []


def test_a_tgi_server_configured_without_tools_refuses_them(make_app, tgi):
    live = gateway(make_app, tgi, tools=False)
    try:
        response = post(live, "/v1/chat/completions", {"model": "huggingface.tgi", "messages": ASK, "tools": TOOLS})
    finally:
        live.stop()
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == ("unsupported_operation", "tools")
    assert tgi.requests == []
