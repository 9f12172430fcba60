"""Completion routes: plain JSON and SSE streams over the shared pipeline."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from llmgateway.api.calls import ChatCall, with_cache_control
from llmgateway.api.completion.schemas import ChatCompletionSchema, ChunkSchema, CompletionRequestSchema
from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.lifecycle import current_call
from llmgateway.api.rendering import completion_body, gateway_headers, json_response, sse_response, sse_stream
from llmgateway.api.security import requires
from llmgateway.api.sse_schema import sse_event_schema
from llmgateway.services import services

blp = Blueprint("completion", __name__, url_prefix="/api/v1", description="Chat completions")
#: One SSE event of /completion/stream; its `data` is a Chunk's JSON.
CompletionEventSchema = sse_event_schema("CompletionEventSchema", "Chunk", ChunkSchema)

SSE_DESCRIPTION = (
    "A `text/event-stream`: one `data: <chat.completion.chunk>` event per delta, then a chunk with "
    "`choices: []` and the full `usage`, then `data: [DONE]`. An error after the stream began is a single "
    '`data: {"error": {...}}` event and the stream ends without [DONE].'
)


@blp.route("/completion")
class Completion(MethodView):
    @requires("completion", usage="completion")
    @blp.arguments(CompletionRequestSchema())
    @blp.response(200, ChatCompletionSchema)
    @error_responses(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, chat: ChatCall) -> Response:
        """Create a chat completion."""
        call = current_call()
        chat = with_cache_control(chat)
        result = services().gateway.complete(call, chat.request, chat.options)
        return json_response(completion_body(result), headers=gateway_headers(call))


@blp.route("/completion/stream")
class CompletionStreamView(MethodView):
    @requires("completion", usage="completion_stream")
    @blp.arguments(CompletionRequestSchema())
    @blp.response(200, CompletionEventSchema, content_type="text/event-stream", description=SSE_DESCRIPTION)
    @error_responses(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, chat: ChatCall) -> Response:
        """Stream a chat completion as server-sent events."""
        call = current_call()
        chat = with_cache_control(chat)
        stream = services().gateway.stream(call, chat.request, chat.options)
        return sse_response(sse_stream(stream, call.request_id), gateway_headers(call))
