"""The health page: circuit-breaker states (the source of GET /api/v1/admin/breakers) with when each opened."""

from __future__ import annotations

from typing import Any

from flask import render_template

from llmgateway.api.console.auth import console_page
from llmgateway.api.console.views import blp
from llmgateway.services import services

STATE_LABELS = {"closed": "Closed (healthy)", "open": "Open (failing fast)", "half_open": "Half-open (probing)"}


def breaker_rows() -> list[dict[str, Any]]:
    board = services().extras.get("breakers")
    rows = board.snapshot() if board is not None else []
    return [{**row, "state_label": STATE_LABELS.get(row["state"], row["state"])} for row in rows]


@blp.route("/health")
@console_page
def health() -> tuple[str, int]:
    board = services().extras.get("breakers")
    return render_template("console/health.html", breakers=breaker_rows(), breakers_enabled=board is not None), 200
