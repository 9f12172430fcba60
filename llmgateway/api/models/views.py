"""Catalogue routes: every model, one model (ids may contain '.' and '/'), and one provider's models."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.models.schemas import ModelListSchema, ModelSchema
from llmgateway.api.rendering import json_response
from llmgateway.api.security import AUTHENTICATED, requires
from llmgateway.services import services

blp = Blueprint("models", __name__, url_prefix="/api/v1/models", description="Model catalogue")


@blp.route("")
class ModelList(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(200, ModelListSchema)
    @error_responses(401)
    def get(self) -> Response:
        """List every model the gateway can route."""
        return json_response({"object": "list", "data": services().gateway.catalogue.entries()})


@blp.route("/provider/<string:name>")
class ProviderModels(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(200, ModelListSchema)
    @error_responses(401, 404)
    def get(self, name: str) -> Response:
        """List one provider's models (provider names are case-insensitive)."""
        return json_response({"object": "list", "data": services().gateway.catalogue.entries_for_provider(name)})


@blp.route("/<path:model_id>")
class ModelDetail(MethodView):
    @requires(AUTHENTICATED)
    @blp.response(200, ModelSchema)
    @error_responses(401, 404)
    def get(self, model_id: str) -> Response:
        """Describe one model id: mapped, `provider.model`, or inferred."""
        return json_response(services().gateway.catalogue.resolve(model_id).as_entry())
