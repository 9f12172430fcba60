"""Checks that each upstream received a tool round trip in its own wire format (shared by provider and gateway tests).

Each takes the messages the fake received for [system, user, assistant with the calls, one tool result per call].
"""

from __future__ import annotations

import json
from typing import Any

from llmgateway.providers.chat_types import ToolCall


def _openai_received(messages: list[dict[str, Any]], calls: tuple[ToolCall, ...]) -> None:
    assistant = messages[2]
    assert assistant["content"] is None
    assert assistant["tool_calls"] == [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
    ]
    assert messages[3:] == [{"role": "tool", "tool_call_id": c.id, "content": f"result of {c.name}"} for c in calls]


def _anthropic_received(messages: list[dict[str, Any]], calls: tuple[ToolCall, ...]) -> None:
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]  # both results merged in one user turn
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments)} for c in calls
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": c.id, "content": f"result of {c.name}"} for c in calls
    ]


def _cohere_received(messages: list[dict[str, Any]], calls: tuple[ToolCall, ...]) -> None:
    assert messages[0] == {"role": "system", "content": "Use the tools."}
    assert "content" not in messages[2] and len(messages[2]["tool_calls"]) == len(calls)
    assert messages[3:] == [{"role": "tool", "tool_call_id": c.id, "content": f"result of {c.name}"} for c in calls]


def _tgi_received(messages: list[dict[str, Any]], calls: tuple[ToolCall, ...]) -> None:
    assert "content" not in messages[2]  # with content TGI would read a text turn and drop the calls
    assert messages[2]["tool_calls"][0]["id"] == "0"
    assert messages[3]["role"] == "tool"


RECEIVED = {
    "openai": _openai_received,
    "router": _openai_received,
    "anthropic": _anthropic_received,
    "cohere": _cohere_received,
    "tgi": _tgi_received,
}
