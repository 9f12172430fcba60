"""Anthropic prompt-cache breakpoints (`cache_control`) from both chat surfaces: forwarded on content parts, system
blocks and tools to Anthropic; dropped for providers that have no such field; malformed ones are a 400."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, all_providers_config, auth

EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}
DOCUMENT = "a long reference document " * 20
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    "cache_control": EPHEMERAL,
}


@pytest.fixture
def gateway(make_app, fake_openai, other_fakes):
    for fake in other_fakes.values():
        fake.reset()
    app = make_app(providers=all_providers_config(fake_openai, other_fakes))
    return app.test_client(), {"openai": fake_openai, **other_fakes}


def body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": DOCUMENT, "cache_control": HOUR}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "First question about it.", "cache_control": EPHEMERAL},
                    {"type": "text", "text": "And a second one."},
                ],
            },
        ],
        "tools": [TOOL],
    }


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v1/completion"])
def test_breakpoints_reach_anthropic_on_system_blocks_content_parts_and_tools(gateway, path):
    client, fakes = gateway
    response = client.post(path, json=body("anthropic.claude-sonnet-4-5-20250929"), headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.json
    sent = fakes["anthropic"].requests[-1]["json"]
    assert sent["system"] == [{"type": "text", "text": DOCUMENT, "cache_control": HOUR}]
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "First question about it.", "cache_control": EPHEMERAL},
                {"type": "text", "text": "And a second one."},
            ],
        }
    ]
    assert sent["tools"][0]["cache_control"] == EPHEMERAL and sent["tools"][0]["name"] == "lookup"


def test_a_message_level_breakpoint_marks_the_messages_last_block(gateway):
    client, fakes = gateway
    request = {
        "model": "anthropic.claude-sonnet-4-5-20250929",
        "messages": [
            {"role": "system", "content": DOCUMENT, "cache_control": EPHEMERAL},
            {"role": "user", "content": "A question."},
        ],
    }
    assert client.post("/v1/chat/completions", json=request, headers=auth(ADMIN_KEY)).status_code == 200
    sent = fakes["anthropic"].requests[-1]["json"]
    assert sent["system"] == [{"type": "text", "text": DOCUMENT, "cache_control": EPHEMERAL}]
    assert sent["messages"] == [{"role": "user", "content": "A question."}]


@pytest.mark.parametrize(
    "model", ["openai.gpt-4o-mini", "cohere.command-a-03-2025", "huggingface.meta-llama/Llama-3.1-8B-Instruct"]
)
def test_providers_without_prompt_cache_fields_get_plain_messages(gateway, model):
    client, fakes = gateway
    response = client.post("/v1/chat/completions", json=body(model), headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.json
    fake = fakes[model.split(".", 1)[0]]
    raw = fake.requests[-1]["raw"]
    assert b"cache_control" not in raw
    messages = fake.requests[-1]["json"]["messages"]
    assert messages[0]["content"] == DOCUMENT  # text-only parts go as the plain text they were before
    assert messages[1]["content"] == "First question about it.\nAnd a second one."


@pytest.mark.parametrize(
    ("marker", "param"),
    [
        ({"type": "persistent"}, "messages.0.content.0.cache_control"),
        ({"type": "ephemeral", "ttl": "2h"}, "messages.0.content.0.cache_control.ttl"),
        ("ephemeral", "messages.0.content.0.cache_control"),
    ],
)
def test_a_malformed_breakpoint_is_a_400_naming_its_place(gateway, marker, param):
    client, fakes = gateway
    request = {
        "model": "anthropic.claude-sonnet-4-5-20250929",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": marker}]}],
    }
    before = len(fakes["anthropic"].requests)
    response = client.post("/v1/chat/completions", json=request, headers=auth(ADMIN_KEY))
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_request"
    assert response.json["error"]["param"] == param
    assert len(fakes["anthropic"].requests) == before


def test_a_malformed_tool_breakpoint_is_a_400(gateway):
    client, _ = gateway
    request = {**body("anthropic.claude-sonnet-4-5-20250929"), "tools": [{**TOOL, "cache_control": {"ttl": "5m"}}]}
    response = client.post("/api/v1/completion", json=request, headers=auth(ADMIN_KEY))
    assert response.status_code == 400 and response.json["error"]["param"] == "tools.0.cache_control"
