"""Neutral answers → Anthropic's `Message` object, stop reasons and usage, and its error body."""

from __future__ import annotations

from typing import Any

from llmgateway.errors import GatewayError
from llmgateway.providers.types import Usage

#: The neutral (OpenAI) finish reason → Anthropic's stop_reason; None (unknown) reads as a normal end.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
#: Anthropic's error type for each status the gateway answers with (SPEC §5's statuses are kept).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
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


def error_body(error: GatewayError, request_id: str | None) -> dict[str, Any]:
    """`{type: "error", error: {type, message}, request_id}` with the type the SDK expects for the status."""
    return {
        "type": "error",
        "error": {"type": error_type(error.status), "message": error.message},
        "request_id": request_id,
    }


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
