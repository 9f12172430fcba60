"""Anthropic-compatible routes (/v1/messages, /v1/messages/count_tokens) over the shared pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, TypeVar

import orjson
from flask import Response, request
from flask.views import MethodView

from llmgateway.api.anthropic_compat.events import MessageEvents
from llmgateway.api.anthropic_compat.render import message_body
from llmgateway.api.anthropic_compat.schemas import (
    AnthropicErrorSchema,
    AnthropicEventSchema,
    AnthropicMessageSchema,
    CountTokensRequestSchema,
    CountTokensSchema,
    MessagesRequestSchema,
)
from llmgateway.api.anthropic_compat.translate import MessagesCall, parse_messages_request
from llmgateway.api.calls import ChatCall, with_cache_control
from llmgateway.api.docs import Blueprint
from llmgateway.api.lifecycle import current_call
from llmgateway.api.rendering import gateway_headers, json_response, sse_response
from llmgateway.api.schemas import limit
from llmgateway.api.security import requires
from llmgateway.core.tokens import estimate_messages, estimate_text
from llmgateway.core.usage import UsageCall
from llmgateway.services import services

F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint(
    "anthropic_compat",
    __name__,
    url_prefix="/v1",
    description="Anthropic Messages API: point an Anthropic SDK (or Claude Code's ANTHROPIC_BASE_URL) at <gateway>.",
)


def anthropic_errors(*statuses: int) -> Callable[[F], F]:
    """Document error answers in Anthropic's shape (this surface's own, see api/error_handlers.py)."""

    def decorator(view: F) -> F:
        for status in (*statuses, 405, 415):
            view = blp.alt_response(
                status,
                schema=AnthropicErrorSchema,
                description=f"{HTTPStatus(status).phrase} (Anthropic's error shape)",
            )(view)
        return blp.alt_response(
            "default", schema=AnthropicErrorSchema, description="Any other error (Anthropic's error shape)"
        )(view)

    return decorator


STREAM_DESCRIPTION = (
    "With `stream: true`: `event:` + `data:` pairs — message_start, then per block content_block_start, "
    "content_block_delta*, content_block_stop (a ping after the first start), message_delta with the stop reason "
    "and cumulative usage, message_stop; a later failure is one `error` event."
)


def parse(body: dict[str, Any]) -> MessagesCall:
    return parse_messages_request(
        body,
        {name: request.headers.get(name, "") for name in ("anthropic-beta",)},
        max_tokens_limit=limit("max_tokens"),
        max_messages=limit("max_messages"),
    )


def surface_headers(call: UsageCall) -> dict[str, str]:
    """The gateway's headers plus Anthropic's `request-id` (the SDK exposes it as `_request_id`)."""
    return {**gateway_headers(call), "request-id": call.request_id}


@blp.route("/messages")
class Messages(MethodView):
    @requires("completion", usage="anthropic_messages")
    @blp.arguments(MessagesRequestSchema())
    @blp.response(200, AnthropicMessageSchema)
    @blp.alt_response(
        200, success=True, content_type="text/event-stream", schema=AnthropicEventSchema, description=STREAM_DESCRIPTION
    )
    @anthropic_errors(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, body: dict[str, Any]) -> Response:
        """Create a message, plain or streamed (Anthropic's API; any routable model answers)."""
        call = current_call()
        messages = parse(body)
        chat = with_cache_control(ChatCall(messages.request, stream=messages.stream))
        gateway = services().gateway
        if not chat.stream:
            result = gateway.complete(call, chat.request, chat.options)
            if result.native is not None:  # Anthropic answered the client's own body: its answer as it came
                answer = {**result.native, "model": result.model}
            else:
                answer = message_body(
                    request_id=call.request_id,
                    model=result.model,
                    content=result.content,
                    finish_reason=result.finish_reason,
                    usage=result.usage,
                    tool_calls=result.tool_calls,
                )
            return json_response(answer, headers=surface_headers(call))
        call.endpoint = "anthropic_messages_stream"
        stream = gateway.stream(call, chat.request, chat.options)
        writer = MessageEvents(
            request_id=call.request_id,
            model=stream.start.model,
            input_tokens=estimate_messages(messages.request.messages),
        )

        def events() -> Iterator[bytes]:
            try:
                yield from writer.events(stream, lambda: stream.usage)
            finally:
                stream.close()

        return sse_response(events(), surface_headers(call))


@blp.route("/messages/count_tokens")
class CountTokens(MethodView):
    @requires("completion", rate_limited=True)
    @blp.arguments(CountTokensRequestSchema())
    @blp.response(200, CountTokensSchema)
    @anthropic_errors(400, 401, 403, 404, 413, 429)
    def post(self, body: dict[str, Any]) -> Response:
        """Count a request's input tokens (the gateway's estimate; no upstream call, no usage record)."""
        messages = parse({**body, "max_tokens": 1})
        services().gateway.catalogue.resolve(messages.request.model)  # an unknown model is a 404 here too
        tools = sum(estimate_text(orjson.dumps(tool).decode()) for tool in body.get("tools") or ())
        return json_response({"input_tokens": estimate_messages(messages.request.messages) + tools})
