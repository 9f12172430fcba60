"""OpenAI Responses routes (/v1/responses, GET/DELETE /v1/responses/{id}) over the shared pipeline."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Response
from flask.views import MethodView

from llmgateway.api.calls import ChatCall, with_cache_control
from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.lifecycle import current_call, state
from llmgateway.api.rendering import gateway_headers, json_response, sse_response
from llmgateway.api.responses.events import ResponseEvents
from llmgateway.api.responses.render import ResponseFrame, response_body
from llmgateway.api.responses.schemas import (
    DeletedResponseSchema,
    ResponseEventSchema,
    ResponseObjectSchema,
    ResponsesRequestSchema,
)
from llmgateway.api.responses.translate import ResponsesRequest, chat_request, parse_responses_request
from llmgateway.api.schemas import limit
from llmgateway.api.security import requires
from llmgateway.core.keys import Principal
from llmgateway.core.options import CallOptions
from llmgateway.core.usage import UsageCall
from llmgateway.errors import NotFound
from llmgateway.infra.stored_responses import ResponseStore
from llmgateway.services import services

log = logging.getLogger(__name__)

blp = Blueprint(
    "responses",
    __name__,
    url_prefix="/v1",
    description="OpenAI Responses API: point an OpenAI SDK's base_url at <gateway>/v1; any routable model answers.",
)

STREAM_DESCRIPTION = (
    "With `stream: true`: `event:` + `data:` pairs, each with `sequence_number` from 0 — response.created, "
    "response.in_progress, per output item output_item.added … output_item.done, then response.completed "
    "(or response.incomplete); a later failure is `response.failed`."
)


def store() -> ResponseStore:
    return services().response_store


def principal() -> Principal:
    who = state().principal
    assert who is not None, "the route requires a credential"
    return who


def not_found(response_id: str, param: str | None = None) -> NotFound:
    """The same 404 for an id that never existed and for another owner's: nothing leaks."""
    return NotFound(f"No response with id '{response_id[:80]}' was found.", param=param)


def keep(
    kept: ResponseStore, call: UsageCall, parsed: ResponsesRequest, history: list[dict[str, Any]], body: dict[str, Any]
) -> None:
    """Store the answer for `previous_response_id` and GET; a database failure leaves the answer itself intact."""
    if not parsed.store or call.principal is None:
        return
    try:
        kept.save(
            owner=call.principal.owner,
            api_key_id=call.principal.key_id,
            response=body,
            input_items=[*history, *parsed.items],
        )
    except Exception:  # the client has its answer; a later previous_response_id will say 404
        log.exception("could not store response", extra={"request_id": call.request_id})


@blp.route("/responses")
class Responses(MethodView):
    @requires("completion", usage="responses")
    @blp.arguments(ResponsesRequestSchema())
    @blp.response(200, ResponseObjectSchema)
    @blp.alt_response(
        200, success=True, content_type="text/event-stream", schema=ResponseEventSchema, description=STREAM_DESCRIPTION
    )
    @error_responses(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, body: dict[str, Any]) -> Response:
        """Create a response, plain or streamed (OpenAI's Responses API), optionally continuing a stored one."""
        call = current_call()
        parsed = parse_responses_request(body, max_tokens_limit=limit("max_tokens"), max_items=limit("max_messages"))
        history: list[dict[str, Any]] = []
        if parsed.previous_response_id:
            call.model = parsed.model
            conversation = store().load(parsed.previous_response_id, principal().owner)
            if conversation is None:
                raise not_found(parsed.previous_response_id, "previous_response_id")
            history = conversation.history()
        chat = with_cache_control(ChatCall(chat_request(parsed, history), CallOptions(metadata=parsed.metadata)))
        gateway = services().gateway
        if not parsed.stream:
            result = gateway.complete(call, chat.request, chat.options)
            frame = ResponseFrame(call.request_id, result.model, parsed)
            answer = response_body(
                frame,
                content=result.content,
                finish_reason=result.finish_reason,
                usage=result.usage,
                tool_calls=result.tool_calls,
                native=result.native,
            )
            keep(store(), call, parsed, history, answer)
            return json_response(answer, headers=gateway_headers(call))
        call.endpoint = "responses_stream"
        stream = gateway.stream(call, chat.request, chat.options)
        writer = ResponseEvents(ResponseFrame(call.request_id, stream.start.model, parsed))
        kept = store()  # the body is sent outside the app context

        def events() -> Iterator[bytes]:
            try:
                yield from writer.events(
                    stream, lambda: stream.usage, on_final=lambda final: keep(kept, call, parsed, history, final)
                )
            finally:
                stream.close()

        return sse_response(events(), gateway_headers(call))


@blp.route("/responses/<response_id>")
class StoredResponseView(MethodView):
    @requires("completion", rate_limited=True)
    @blp.response(200, ResponseObjectSchema)
    @error_responses(401, 403, 404, 429)
    def get(self, response_id: str) -> Response:
        """A stored response of the caller's key owner (404 for any other)."""
        conversation = store().load(response_id, principal().owner)
        if conversation is None:
            raise not_found(response_id)
        return json_response(conversation.response)

    @requires("completion", rate_limited=True)
    @blp.response(200, DeletedResponseSchema)
    @error_responses(401, 403, 404, 429)
    def delete(self, response_id: str) -> Response:
        """Delete a stored response of the caller's key owner (404 for any other)."""
        if not store().delete(response_id, principal().owner):
            raise not_found(response_id)
        return json_response({"id": response_id, "object": "response", "deleted": True})
