"""OpenAI's Responses API as a native upstream: a /v1/responses body sent as is, its answer and events read back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from llmgateway.errors import ServerError
from llmgateway.providers.chat_types import ToolCall, ToolCallDelta
from llmgateway.providers.sse import parse_sse
from llmgateway.providers.types import ChatDelta, ChatRequest, ChatResponse, ChatStream, NativeRequest, Usage

#: The `NativeRequest.api` of the gateway's /v1/responses surface.
NATIVE_API = "openai.responses"
#: Why a response is `incomplete`, as the neutral finish reason.
INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
FINAL_EVENTS = ("response.completed", "response.incomplete")


def native_of(request: ChatRequest) -> NativeRequest | None:
    native = request.native
    return native if native is not None and native.api == NATIVE_API else None


def responses_body(native: NativeRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The client's body with the provider's model id; reasoning items and `encrypted_content` stay as sent."""
    body = {k: v for k, v in native.body.items() if k not in ("model", "stream")}
    return {**body, "model": model, **({"stream": True} if stream else {})}


def usage(raw: Any) -> Usage | None:
    """The Responses API's usage (cached input and reasoning output are parts of the totals, as in the neutral one)."""
    if not isinstance(raw, dict):
        return None
    inputs: dict[str, Any] = raw["input_tokens_details"] if isinstance(raw.get("input_tokens_details"), dict) else {}
    outputs: dict[str, Any] = raw["output_tokens_details"] if isinstance(raw.get("output_tokens_details"), dict) else {}
    return Usage(
        raw.get("input_tokens") or 0,
        raw.get("output_tokens") or 0,
        cached_tokens=inputs.get("cached_tokens") or 0,
        reasoning_tokens=outputs.get("reasoning_tokens") or 0,
    )


def finish_reason(response: dict[str, Any], has_calls: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return INCOMPLETE_FINISH.get(str(reason), "length")
    return "tool_calls" if has_calls else "stop"


def answer(data: dict[str, Any]) -> ChatResponse:
    """The neutral view of a Response (text of its messages, its function calls), with the raw object."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for item in data.get("output") or ():
        if item.get("type") == "message":
            texts.extend(p.get("text") or "" for p in item.get("content") or () if p.get("type") == "output_text")
        elif item.get("type") == "function_call":
            calls.append(ToolCall(item.get("call_id") or "", item.get("name") or "", item.get("arguments") or ""))
    return ChatResponse(
        content="".join(texts) or None,
        finish_reason=finish_reason(data, bool(calls)),
        usage=usage(data.get("usage")),
        provider_response_id=data.get("id") or None,
        tool_calls=tuple(calls),
        native=data,
    )


def relay(provider: Any, lines: Iterator[bytes], stream: ChatStream) -> Iterator[ChatDelta]:
    """Every event rides on a delta as it came; text, function calls, the finish and usage are read from them."""
    calls: dict[int, int] = {}  # output_index → neutral tool-call index
    for event in parse_sse(lines):
        data = provider.event_json(event.data)
        kind = data.get("type") or event.event or ""
        if kind in ("error", "response.failed"):
            error = data.get("error") or (data.get("response") or {}).get("error") or data
            raise ServerError(f"The {provider.name} provider failed mid-stream: {str(error.get('message'))[:200]}")
        delta = event_delta(kind, data, calls)
        if kind in FINAL_EVENTS:
            stream.usage = usage((data.get("response") or {}).get("usage"))
        yield replace(delta or ChatDelta(), native=(kind, data))
        if kind in FINAL_EVENTS:
            return
    raise ServerError(f"The {provider.name} stream ended before it was complete.")


def event_delta(kind: str, data: dict[str, Any], calls: dict[int, int]) -> ChatDelta | None:
    if kind == "response.created":
        return ChatDelta(role="assistant")
    if kind == "response.output_text.delta" and data.get("delta"):
        return ChatDelta(content=data["delta"])
    item = data.get("item") or {}
    if kind == "response.output_item.added" and item.get("type") == "function_call":
        index = calls[data.get("output_index", len(calls))] = len(calls)
        return ChatDelta(tool_calls=(ToolCallDelta(index, item.get("call_id"), item.get("name")),))
    if kind == "response.function_call_arguments.delta" and data.get("output_index") in calls and data.get("delta"):
        return ChatDelta(tool_calls=(ToolCallDelta(calls[data["output_index"]], arguments=data["delta"]),))
    if kind in FINAL_EVENTS:
        return ChatDelta(finish_reason=finish_reason(data.get("response") or {}, bool(calls)))
    return None
