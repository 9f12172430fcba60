"""GET /health (the process is up) and GET /health/ready (database, Redis, providers)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from llmgateway.api.docs import Blueprint
from llmgateway.api.overload import IN_FLIGHT_EXTRA
from llmgateway.api.rendering import json_response
from llmgateway.api.security import public
from llmgateway.infra.db import db_call
from llmgateway.services import Services, services

blp = Blueprint("health", __name__, url_prefix="/health", description="Health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "healthy", "enum": ["healthy"]})


class ChecksSchema(Schema):
    database = fields.String(
        required=True, metadata={"enum": ["ok", "down"], "description": "down only degrades: rows wait in the spool"}
    )
    redis = fields.String(
        required=True,
        metadata={"enum": ["ok", "down", "not_configured"], "description": "down only degrades: the service serves"},
    )
    providers = fields.List(fields.String(), required=True, metadata={"description": "Configured providers"})
    ledger = fields.String(
        required=True,
        metadata={"enum": ["ok", "spooling", "full"], "description": "full refuses usage requests: unhealthy"},
    )
    admission = fields.String(
        metadata={
            "enum": ["ok", "refusing"],
            "description": "refusing: this worker is at server.max_in_flight and answers 503 to new requests "
            "(degraded)",
        },
    )


class ReadinessSchema(Schema):
    status = fields.String(
        required=True,
        metadata={
            "enum": ["healthy", "degraded", "unhealthy"],
            "description": "healthy; degraded (database or Redis down, or refusing overload, still serving: 200); "
            "unhealthy (no "
            "provider configured, or the ledger spool is full: 503)",
        },
    )
    checks = fields.Nested(ChecksSchema, required=True)
    ledger_backlog = fields.Integer(metadata={"description": "usage rows not yet committed to the database"})


def check_database(svc: Services) -> str:
    def ping() -> None:
        with svc.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        db_call(svc.engine, ping)
    except SQLAlchemyError:
        return "down"
    return "ok"


def ledger_state(svc: Services) -> str:
    """`ok`, `spooling` (rows wait in the spool for the database) or `full` (usage requests are refused)."""
    ledger = svc.ledger
    if ledger.full:
        return "full"
    return "spooling" if ledger.backlog else "ok"


def admission_state(svc: Services) -> str:
    """`refusing` while this worker is at its in-flight bound (or refused a request in the last seconds)."""
    limit = svc.extras.get(IN_FLIGHT_EXTRA)
    return "refusing" if limit is not None and limit.refusing else "ok"


def readiness(svc: Services) -> dict[str, Any]:
    checks: dict[str, Any] = {
        "database": check_database(svc),
        "redis": svc.extras["redis_health"]() if "redis_health" in svc.extras else "not_configured",
        "providers": sorted(svc.providers),
        "ledger": ledger_state(svc),
        "admission": admission_state(svc),
    }
    if not checks["providers"] or checks["ledger"] == "full":
        status = "unhealthy"
    elif (
        checks["database"] != "ok"
        or checks["redis"] not in ("ok", "not_configured")
        or checks["admission"] == "refusing"
    ):
        # Still serving: seen keys authenticate from memory and usage rows wait in the durable spool.
        status = "degraded"
    else:
        status = "healthy"
    return {"status": status, "checks": checks, "ledger_backlog": svc.ledger.backlog}


@blp.route("")
class Liveness(MethodView):
    @public
    @blp.response(200, HealthSchema)
    def get(self) -> Response:
        """Liveness: the process is up (touches no dependency, so a slow database never restarts it)."""
        return json_response({"status": "healthy"})


@blp.route("/ready")
class Readiness(MethodView):
    @public
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="Not ready (no provider, or the ledger spool is full)")
    def get(self) -> Response:
        """Readiness: database, Redis, ledger and a provider; `degraded` (database or Redis down) still serves (200)."""
        report = readiness(services())
        return json_response(report, status=503 if report["status"] == "unhealthy" else 200)
