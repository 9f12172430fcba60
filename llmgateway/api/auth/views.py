"""POST /api/v1/auth/token: exchange an API key (header or body) for a JWT carrying its permissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_jwt_extended import create_access_token
from marshmallow import Schema, fields

from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.parsing import load_json_body
from llmgateway.api.rendering import json_response
from llmgateway.api.security import PUBLIC, presented_credential, requires
from llmgateway.errors import AuthenticationRequired, InvalidApiKey, InvalidRequest
from llmgateway.services import services

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Token exchange")


class TokenRequestSchema(Schema):
    api_key = fields.String(metadata={"description": "The key, if not sent as X-API-Key or Bearer."})


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer()


def _credential() -> str:
    credential = presented_credential()
    if credential is None and request.content_length:
        body: Any = load_json_body(request)
        if not isinstance(body, dict) or set(body) - {"api_key"}:
            raise InvalidRequest("The body may only hold 'api_key'.", param="api_key")
        credential = body.get("api_key")
        if not isinstance(credential, str):
            raise InvalidRequest("api_key must be a string.", param="api_key")
    if not credential:
        raise AuthenticationRequired()
    return credential


@blp.route("/token")
class Token(MethodView):
    @requires(PUBLIC, rate_limited=True)  # the key is checked here: it may arrive in the body
    @blp.doc(requestBody={"content": {"application/json": {"schema": TokenRequestSchema}}, "required": False})
    @blp.response(200, TokenSchema)
    @error_responses(400, 401, 429)
    def post(self) -> Response:
        """Exchange an API key for a JWT (`sub` = key id, with its permissions)."""
        svc = services()
        credential = _credential()
        if credential.count(".") == 2 and not credential.startswith("gw_"):
            raise InvalidApiKey("Only an API key can be exchanged for a token.")
        principal = svc.authenticator.authenticate_key(credential)
        expires = svc.settings.jwt.access_token_expires
        token = create_access_token(
            identity=principal.key_id,
            additional_claims={"permissions": sorted(principal.permissions)},
            expires_delta=timedelta(seconds=expires),
        )
        return json_response({"access_token": token, "token_type": "Bearer", "expires_in": expires})
