"""Admin routes: the usage report, API key management, circuit-breaker and deployment states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response
from flask.views import MethodView

from llmgateway.api.admin.schemas import (
    BreakerListSchema,
    DeploymentListSchema,
    KeyCreateSchema,
    KeyListSchema,
    KeySchema,
    UsageQuerySchema,
    UsageReportSchema,
)
from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.rendering import json_response
from llmgateway.api.security import requires
from llmgateway.core.report_format import key_dict, report_csv, report_window
from llmgateway.errors import InvalidRequest, NotFound
from llmgateway.infra.reports import usage_report
from llmgateway.services import services

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Administration (admin permission)")


@blp.route("/usage")
class Usage(MethodView):
    @requires("admin")
    @blp.arguments(UsageQuerySchema(), location="query")
    @blp.response(200, UsageReportSchema)
    @blp.alt_response(
        200,
        success=True,
        content_type="text/csv",
        schema={"type": "string"},
        description="With `format=csv`: the same report as CSV, one row per group, then the totals.",
    )
    @error_responses(400, 401, 403)
    def get(self, query: dict[str, Any]) -> Response:
        """Usage from the ledger, aggregated in SQL; dates inclusive, UTC; `format=csv` for CSV."""
        start, end = report_window(query.get("startDate"), query.get("endDate"), datetime.now(UTC).date())
        try:
            report = usage_report(services().sessions, start, end, query.get("groupBy"))
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="endDate") from exc
        if query["format"] == "csv":
            return Response(report_csv(report), mimetype="text/csv")
        return json_response(report)


@blp.route("/keys")
class Keys(MethodView):
    @requires("admin")
    @blp.response(200, KeyListSchema)
    @error_responses(401, 403)
    def get(self) -> Response:
        """List keys (never the key or its hash)."""
        return json_response({"data": [key_dict(row) for row in services().keystore.list()]})

    @requires("admin")
    @blp.arguments(KeyCreateSchema())
    @blp.response(201, KeySchema)
    @error_responses(400, 401, 403)
    def post(self, body: dict[str, Any]) -> Response:
        """Create a key; the response is the only time the key is shown."""
        key, row = services().keystore.create_from(body, source="api")
        return json_response(key_dict(row, key), status=201)


@blp.route("/keys/<string:key_id>")
class KeyDetail(MethodView):
    @requires("admin")
    @blp.response(204)
    @error_responses(401, 403, 404)
    def delete(self, key_id: str) -> Response:
        """Revoke a key; it stops working within seconds on every worker."""
        svc = services()
        if not svc.keystore.revoke(key_id):
            raise NotFound("No live key has this id.")
        svc.authenticator.forget(key_id)
        return Response(status=204)


@blp.route("/breakers")
class Breakers(MethodView):
    @requires("admin")
    @blp.response(200, BreakerListSchema)
    @error_responses(401, 403)
    def get(self) -> Response:
        """Circuit-breaker state per provider deployment (shared by the fleet when Redis is configured)."""
        board = services().extras.get("breakers")
        return json_response({"data": board.snapshot() if board is not None else []})


@blp.route("/deployments")
class Deployments(MethodView):
    @requires("admin")
    @blp.response(200, DeploymentListSchema)
    @error_responses(401, 403)
    def get(self) -> Response:
        """Each mapped model's deployments: state, weight, in flight, recent latency, error rate, cooldown."""
        board = services().extras.get("deployments")
        return json_response({"data": board.snapshot() if board is not None else []})
