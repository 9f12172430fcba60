"""GET /metrics: the Prometheus text exposition, over every gunicorn worker, optionally behind a token."""

from __future__ import annotations

import hmac

from flask import Response, request
from flask.views import MethodView

from llmgateway.api.docs import Blueprint, error_responses
from llmgateway.api.security import requires
from llmgateway.errors import AuthenticationRequired, InvalidToken, NotFound
from llmgateway.services import services

blp = Blueprint("metrics", __name__, url_prefix="/metrics", description="Prometheus metrics")

DESCRIPTION = (
    "Prometheus text format, aggregated over all workers. Public by default "
    "(`server.public_paths`); when `metrics.token` is set it needs `Authorization: Bearer <token>`."
)


def check_token(expected: str | None) -> None:
    """Raise 401 unless the configured scrape token was presented (compared in constant time)."""
    if not expected:
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthenticationRequired("This endpoint needs the metrics token as a Bearer token.")
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise InvalidToken("The metrics token is not valid.")


@blp.route("")
class Metrics(MethodView):
    # Admin when /metrics is removed from server.public_paths; public paths skip authentication.
    @requires("admin")
    @blp.response(200, content_type="text/plain", description=DESCRIPTION)
    @error_responses(401, 404)
    def get(self) -> Response:
        """Prometheus metrics."""
        svc = services()
        if not svc.settings.metrics.enabled:
            raise NotFound()
        check_token(svc.settings.metrics.token)
        body, content_type = svc.metrics.render()
        return Response(body, content_type=content_type)
