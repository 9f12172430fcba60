"""The health page: breaker states and deployments, from the sources of GET /api/v1/admin/breakers and
/api/v1/admin/deployments, with when each breaker opened."""

from __future__ import annotations

from typing import Any

from flask import render_template

from llmgateway.api.console.auth import console_page
from llmgateway.api.console.views import blp
from llmgateway.services import services

STATE_LABELS = {"closed": "Closed (healthy)", "open": "Open (failing fast)", "half_open": "Half-open (probing)"}
DEPLOYMENT_STATES = {
    "healthy": "Healthy",
    "cooling": "Cooling down (429)",
    "open": "Breaker open",
    "half_open": "Breaker half-open",
    "disabled": "Disabled (provider not configured)",
}


def breaker_rows() -> list[dict[str, Any]]:
    board = services().extras.get("breakers")
    rows = board.snapshot() if board is not None else []
    return [{**row, "state_label": STATE_LABELS.get(row["state"], row["state"])} for row in rows]


def deployment_rows() -> list[dict[str, Any]] | None:
    """Each mapped model's deployments, or None when this gateway has no deployment board."""
    board = services().extras.get("deployments")
    if board is None:
        return None
    return [{**row, "state_label": DEPLOYMENT_STATES.get(row["state"], row["state"])} for row in board.snapshot()]


@blp.route("/health")
@console_page
def health() -> tuple[str, int]:
    board = services().extras.get("breakers")
    return render_template(
        "console/health.html",
        breakers=breaker_rows(),
        breakers_enabled=board is not None,
        deployments=deployment_rows(),
    ), 200
