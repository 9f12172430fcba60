"""Neutral answers → Anthropic's `Message` object, its stop reasons and usage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from llmgateway.providers.chat_types import ToolCall
from llmgateway.providers.types import Usage

#: The neutral (OpenAI) finish reason → Anthropic's stop_reason; None (unknown) reads as a normal end.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def message_id(request_id: str) -> str:
    """The `msg_…` id of an answer, derived from the gateway's request id (plain and streamed alike)."""
    return f"msg_{request_id.replace('-', '')}"


def stop_reason(finish_reason: str | None) -> str:
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage_body(usage: Usage | None) -> dict[str, Any]:
    """Anthropic's usage: `input_tokens` excludes the prompt-cache reads and writes, which have their own fields."""
    usage = usage or Usage()
    return {
        "input_tokens": usage.uncached_prompt_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


def tool_input(arguments: str) -> Any:
    """A call's JSON arguments as the object `tool_use.input` carries (unparseable text is kept under `_raw`)."""
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_value": value}


def content_blocks(content: str | None, tool_calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Text then tool_use blocks; a text block is always present without calls, so `get_final_text()` works."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": content or ""}] if content or not tool_calls else []
    for call in tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call.arguments)})
    return blocks


def message_body(
    *,
    request_id: str,
    model: str,
    content: str | None,
    finish_reason: str | None,
    usage: Usage | None,
    tool_calls: Sequence[ToolCall] = (),
) -> dict[str, Any]:
    """A complete `Message`."""
    return {
        "id": message_id(request_id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(content, tool_calls),
        "stop_reason": stop_reason(finish_reason),
        "stop_sequence": None,
        "usage": usage_body(usage),
    }
