"""The embedding route."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from llmgateway.api.calls import EmbeddingCall, with_cache_control
from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.embedding.schemas import EmbeddingRequestSchema, EmbeddingResponseSchema
from llmgateway.api.lifecycle import current_call
from llmgateway.api.rendering import embedding_body, gateway_headers, json_response
from llmgateway.api.security import requires
from llmgateway.services import services

blp = Blueprint("embedding", __name__, url_prefix="/api/v1", description="Embeddings")


@blp.route("/embedding")
class Embedding(MethodView):
    @requires("embedding", usage="embedding")
    @blp.arguments(EmbeddingRequestSchema())
    @blp.response(200, EmbeddingResponseSchema)
    @error_responses(400, 401, 403, 404, 413, 429, 502, 503, 504)
    def post(self, embedding: EmbeddingCall) -> Response:
        """Create embeddings for one or more texts."""
        call = current_call()
        embedding = with_cache_control(embedding)
        result = services().gateway.embed(call, embedding.request, embedding.options)
        return json_response(embedding_body(result), headers=gateway_headers(call))
