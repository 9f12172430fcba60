"""Neutral answers → Anthropic's `Message` object, its stop reasons and usage."""

from __future__ import annotations

from typing import Any

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
    """Anthropic's usage: the neutral prompt tokens are all input (cache detail is Anthropic's own)."""
    usage = usage or Usage()
    return {
        "input_tokens": usage.prompt_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": usage.completion_tokens,
    }


def message_body(
    *, request_id: str, model: str, content: str | None, finish_reason: str | None, usage: Usage | None
) -> dict[str, Any]:
    """A complete `Message`; a text block is always present so `get_final_text()` works on empty answers."""
    return {
        "id": message_id(request_id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": content or ""}],
        "stop_reason": stop_reason(finish_reason),
        "stop_sequence": None,
        "usage": usage_body(usage),
    }
