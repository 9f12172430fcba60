"""The admin console: server-rendered pages under /admin/ (usage, keys, health) behind an admin sign-in."""

from __future__ import annotations

from flask import Flask

from llmgateway.api.console import health, keys, usage  # noqa: F401  (their routes join the blueprint)
from llmgateway.api.console.auth import EXTENSION_KEY, SIGNED_OUT_KEY
from llmgateway.api.console.session import ConsoleSessions
from llmgateway.api.console.views import blp
from llmgateway.infra.redis_client import RedisConnector
from llmgateway.infra.signed_out import SignedOutSessions


def register_console(app: Flask, jwt_secret: str, session_ttl_seconds: int, redis: RedisConnector | None) -> None:
    """Mount the console; its sessions are signed with a key derived from the JWT secret, and sessions signed
    out early are remembered in Redis (the fleet) when it is configured."""
    app.extensions[EXTENSION_KEY] = ConsoleSessions(jwt_secret, session_ttl_seconds)
    app.extensions[SIGNED_OUT_KEY] = SignedOutSessions(redis)
    app.register_blueprint(blp)
