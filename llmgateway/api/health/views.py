"""GET /health (the process is up) and GET /health/ready (database, Redis, providers)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from llmgateway.api.rendering import json_response
from llmgateway.api.security import public
from llmgateway.infra.db import off_hub
from llmgateway.services import Services, services

blp = Blueprint("health", __name__, url_prefix="/health", description="Health")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "healthy"})


class ReadinessSchema(Schema):
    status = fields.String(metadata={"description": "healthy, degraded (still serving) or unhealthy"})
    checks = fields.Dict()
    ledger_backlog = fields.Integer()


def check_database(svc: Services) -> str:
    def ping() -> None:
        with svc.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        off_hub(ping)
    except SQLAlchemyError:
        return "down"
    return "ok"


def readiness(svc: Services) -> dict[str, Any]:
    checks: dict[str, Any] = {
        "database": check_database(svc),
        "redis": svc.extras["redis_health"]() if "redis_health" in svc.extras else "not_configured",
        "providers": sorted(svc.providers),
    }
    if checks["database"] != "ok" or not checks["providers"]:
        status = "unhealthy"
    elif checks["redis"] not in ("ok", "not_configured"):
        status = "degraded"
    else:
        status = "healthy"
    return {"status": status, "checks": checks, "ledger_backlog": svc.ledger.backlog}


@blp.route("")
class Liveness(MethodView):
    @public
    @blp.response(200, HealthSchema)
    def get(self) -> Response:
        """Liveness: the process is up."""
        return json_response({"status": "healthy"})


@blp.route("/ready")
class Readiness(MethodView):
    @public
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="Not ready (database down or no provider)")
    def get(self) -> Response:
        """Readiness: database, Redis and at least one configured provider; `degraded` still serves (200)."""
        report = readiness(services())
        return json_response(report, status=503 if report["status"] == "unhealthy" else 200)
