"""Neutral answers → OpenAI's `Response` object: output items, status, usage, and the request's echoed fields."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmgateway.api.responses.translate import ResponsesRequest
from llmgateway.providers.chat_types import ToolCall
from llmgateway.providers.types import Usage

#: Finish reasons that make a response `incomplete`, with the reason the Responses API gives.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_id(request_id: str) -> str:
    """`resp_…`, derived from the gateway's request id."""
    return f"resp_{request_id.replace('-', '')}"


def message_item_id(request_id: str) -> str:
    return f"msg_{request_id.replace('-', '')}"


@dataclass(slots=True)
class ResponseFrame:
    """What every rendering of one response shares: ids, the request's echoed fields, the creation time."""

    request_id: str
    model: str
    parsed: ResponsesRequest
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def id(self) -> str:
        return response_id(self.request_id)

    def body(
        self,
        *,
        status: str,
        output: list[dict[str, Any]],
        usage: Usage | None,
        incomplete_reason: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The full Response object; nullable fields the spec requires are present."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            **self.parsed.echo,
            "model": self.model,
            "output": output,
            "previous_response_id": self.parsed.previous_response_id,
            "store": self.parsed.store,
            "usage": usage_body(usage) if usage is not None else None,
            "metadata": self.parsed.metadata or {},
        }

    def native(self, upstream: dict[str, Any]) -> dict[str, Any]:
        """OpenAI's own Response (reasoning items and encrypted_content intact) under the gateway's id and model."""
        return {
            **self.parsed.echo,
            **upstream,
            "id": self.id,
            "model": self.model,
            "previous_response_id": self.parsed.previous_response_id,
            "store": self.parsed.store,
            "metadata": self.parsed.metadata or upstream.get("metadata") or {},
        }

    def function_call_item(
        self, position: int, call_id: str, name: str, arguments: str, status: str = "completed"
    ) -> dict[str, Any]:
        """A function_call item; `position` (the call's index) makes its `fc_…` id unique in the response."""
        return {
            "type": "function_call",
            "id": f"fc_{self.request_id.replace('-', '')}_{position}",
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
            "status": status,
        }

    def message_item(self, text: str, status: str = "completed") -> dict[str, Any]:
        content = [output_text_part(text)] if status == "completed" else []
        return {
            "id": message_item_id(self.request_id),
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def final_status(finish_reason: str | None) -> tuple[str, str | None]:
    """`completed`, or `incomplete` with its reason (there is no finish_reason in this API)."""
    reason = INCOMPLETE.get(finish_reason or "")
    return ("incomplete", reason) if reason else ("completed", None)


def response_body(
    frame: ResponseFrame,
    *,
    content: str | None,
    finish_reason: str | None,
    usage: Usage,
    tool_calls: Sequence[ToolCall] = (),
    native: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A finished, non-streamed response: a message item (unless there are only calls), then the calls; or
    OpenAI's own answer when it answered natively."""
    if native is not None:
        return frame.native(native)
    status, reason = final_status(finish_reason)
    output = [frame.message_item(content or "")] if content or not tool_calls else []
    output += [frame.function_call_item(i, call.id, call.name, call.arguments) for i, call in enumerate(tool_calls)]
    return frame.body(status=status, output=output, usage=usage, incomplete_reason=reason)
