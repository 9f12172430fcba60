"""The gateway with all four fake upstreams behind a real HTTP server, for tools, images and JSON end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from llmgateway.providers.chat_types import ToolCall
from tests.conftest import COMPLETION_KEY, all_providers_config, auth
from tests.openai_compat.conftest import LiveGateway

#: One model on each provider the tool loop runs against (the HF router stands for Hugging Face).
MODELS = {
    "openai": "openai.gpt-4o-mini",
    "anthropic": "anthropic.claude-sonnet-4-5-20250929",
    "cohere": "cohere.command-a-03-2025",
    "huggingface": "huggingface.meta-llama/Llama-3.1-8B-Instruct",
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}},
    },
]
ASK = [{"role": "system", "content": "Use the tools."}, {"role": "user", "content": "Weather and time in Paris?"}]


@pytest.fixture
def fakes(fake_openai, other_fakes) -> dict[str, Any]:
    for fake in other_fakes.values():
        fake.reset()
    return {"openai": fake_openai, **other_fakes}


@pytest.fixture
def live(make_app, fakes) -> Any:
    """The gateway with every provider, its cache on (requests opt in with `cache: true`)."""
    gateway = LiveGateway(make_app(providers=all_providers_config(fakes["openai"], fakes), cache={"enabled": True}))
    yield gateway
    gateway.stop()


def post(live: LiveGateway, path: str, body: dict[str, Any], key: str = COMPLETION_KEY) -> requests.Response:
    return requests.post(f"{live.url}{path}", json=body, headers=auth(key), timeout=15)


def sse_chunks(response: requests.Response) -> list[dict[str, Any]]:
    """The JSON events of an SSE body, [DONE] checked and dropped."""
    events = [b.removeprefix("data: ") for b in response.text.split("\n\n") if b.startswith("data: ")]
    assert events[-1] == "[DONE]", events[-1]
    return [json.loads(e) for e in events[:-1]]


def assemble(chunks: list[dict[str, Any]]) -> tuple[list[ToolCall], list[int], str | None, str]:
    """Tool calls assembled by index from OpenAI chunk dicts; the indexes of first pieces; finish reason; text."""
    calls: dict[int, list[Any]] = {}
    firsts: list[int] = []
    finish, text = None, ""
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            delta = choice["delta"]
            text += delta.get("content") or ""
            finish = choice.get("finish_reason") or finish
            for piece in delta.get("tool_calls") or ():
                entry = calls.setdefault(piece["index"], [None, None, ""])
                if piece.get("id"):
                    firsts.append(piece["index"])
                    entry[0], entry[1] = piece["id"], piece["function"]["name"]
                entry[2] += piece["function"].get("arguments") or ""
    return [ToolCall(*calls[i]) for i in sorted(calls)], firsts, finish, text


def as_message(calls: list[ToolCall]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ],
    }


def results(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [{"role": "tool", "tool_call_id": c.id, "content": f"result of {c.name}"} for c in calls]
