"""Flask extension objects, created unbound; the app factory binds them with init_app."""

from __future__ import annotations

from flask_jwt_extended import JWTManager

from llmgateway.api.docs import GatewayApi

api = GatewayApi()
jwt = JWTManager()
