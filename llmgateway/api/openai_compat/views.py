"""OpenAI-compatible routes (/v1/chat/completions, /v1/embeddings, /v1/models) over the shared pipeline."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from llmgateway.api.calls import ChatCall, EmbeddingCall, with_cache_control
from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.lifecycle import current_call
from llmgateway.api.openai_compat.schemas import (
    ChatCompletionsRequestSchema,
    EmbeddingsRequestSchema,
    OpenAIChatCompletionSchema,
    OpenAIChunkSchema,
    OpenAIEmbeddingListSchema,
    OpenAIModelListSchema,
    OpenAIModelSchema,
)
from llmgateway.api.rendering import (
    completion_body,
    embedding_body,
    gateway_headers,
    json_response,
    sse_response,
    sse_stream,
)
from llmgateway.api.security import AUTHENTICATED, requires
from llmgateway.api.sse_schema import sse_event_schema
from llmgateway.services import services

blp = Blueprint(
    "openai_compat",
    __name__,
    url_prefix="/v1",
    description="OpenAI-compatible API: point an OpenAI SDK's base_url at <gateway>/v1.",
)

#: One SSE event of a streamed chat completion; its `data` is an OpenAIChunk's JSON.
OpenAIChunkEventSchema = sse_event_schema("OpenAIChunkEventSchema", "OpenAIChunk", OpenAIChunkSchema)

#: The catalogue knows no creation dates; OpenAI's `created` is required, so it is a constant.
MODEL_CREATED = 0


def openai_model(model_id: str, provider: str) -> dict[str, Any]:
    """OpenAI's model object for a gateway model id."""
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": provider}


@blp.route("/chat/completions")
class ChatCompletions(MethodView):
    @requires("completion", usage="openai_chat")
    @blp.arguments(ChatCompletionsRequestSchema())
    @blp.response(200, OpenAIChatCompletionSchema)
    @blp.alt_response(
        200,
        success=True,
        content_type="text/event-stream",
        schema=OpenAIChunkEventSchema,
        description="With `stream: true`: chat.completion.chunk events, the usage chunk (only with "
        "`stream_options.include_usage`), then `data: [DONE]`; a later failure is one error event.",
    )
    @error_responses(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, chat: ChatCall) -> Response:
        """Create a chat completion, plain or streamed (OpenAI's API)."""
        call = current_call()
        gateway = services().gateway
        chat = with_cache_control(chat)
        if not chat.stream:
            result = gateway.complete(call, chat.request, chat.options)
            return json_response(completion_body(result, gateway_fields=False), headers=gateway_headers(call))
        call.endpoint = "openai_chat_stream"
        stream = gateway.stream(call, chat.request, chat.options)
        events = sse_stream(stream, call.request_id, include_usage=chat.include_usage, gateway_fields=False)
        return sse_response(events, gateway_headers(call))


@blp.route("/embeddings")
class Embeddings(MethodView):
    @requires("embedding", usage="openai_embeddings")
    @blp.arguments(EmbeddingsRequestSchema())
    @blp.response(200, OpenAIEmbeddingListSchema)
    @error_responses(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, embedding: EmbeddingCall) -> Response:
        """Create embeddings (OpenAI's API; `encoding_format` float or base64)."""
        call = current_call()
        embedding = with_cache_control(embedding)
        result = services().gateway.embed(call, embedding.request, embedding.options)
        body = embedding_body(result, gateway_fields=False, encoding=embedding.encoding_format)
        return json_response(body, headers=gateway_headers(call))


@blp.route("/models")
class Models(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(200, OpenAIModelListSchema)
    @error_responses(401)
    def get(self) -> Response:
        """List every model the gateway can route (OpenAI's model objects)."""
        entries = services().gateway.catalogue.entries()
        return json_response({"object": "list", "data": [openai_model(e["id"], e["provider"]) for e in entries]})


@blp.route("/models/<path:model_id>")
class ModelDetail(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(200, OpenAIModelSchema)
    @error_responses(401, 404)
    def get(self, model_id: str) -> Response:
        """Describe one routable model id (ids may contain '.' and '/')."""
        route = services().gateway.catalogue.resolve(model_id)
        return json_response(openai_model(route.model_id, route.provider))
