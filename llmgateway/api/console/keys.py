"""The keys page: list with spend and last use, create (the key shown once), revoke after a confirmation."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns; flask's Response is one

from llmgateway.api.admin.schemas import KeyCreateSchema
from llmgateway.api.console.auth import check_csrf, console_page
from llmgateway.api.console.views import blp
from llmgateway.config import PERMISSIONS
from llmgateway.core.admission import budget_period
from llmgateway.core.report_format import key_dict
from llmgateway.errors import NotFound
from llmgateway.infra.key_activity import KeyActivity, key_activity
from llmgateway.services import services

FORM_FIELDS = ("owner", "rate_limit", "tpm_limit", "budget_usd", "budget_period", "expires_at")


def key_rows() -> list[dict[str, Any]]:
    """Every key as the API lists it, plus its last use and its spend this period; live keys first."""
    svc = services()
    now = time.time()
    activity = key_activity(svc.sessions, budget_period(now, "day")[1], budget_period(now, "month")[1])
    rows = []
    for row in svc.keystore.list():
        seen = activity.get(row.id, KeyActivity(None, 0.0))
        expired = row.expires_at is not None and row.expires_at <= datetime.now(UTC).replace(tzinfo=None)
        rows.append(
            {
                **key_dict(row),
                "last_used": seen.last_used,
                "period_spend_usd": seen.period_spend_usd,
                "status": "revoked" if row.revoked_at else "expired" if expired else "live",
            }
        )
    return sorted(rows, key=lambda r: (r["status"] != "live", r["owner"].lower(), r["created_at"]))


def form_payload(form: Any) -> dict[str, Any]:
    """The form as the admin API's JSON body (empty fields left out), for the API's own schema."""
    payload: dict[str, Any] = {name: form.get(name, "").strip() for name in FORM_FIELDS if form.get(name, "").strip()}
    payload["permissions"] = form.getlist("permissions")
    if "expires_at" in payload and "T" not in payload["expires_at"]:
        payload["expires_at"] += "T00:00:00+00:00"  # a date input: the start of that day, UTC
    elif "expires_at" in payload and not payload["expires_at"].endswith(("Z", "+00:00")):
        payload["expires_at"] += "+00:00"  # a datetime-local input: read as UTC
    return payload


def render_keys(errors: dict[str, Any] | None = None, form: Any = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "console/keys.html",
        keys=key_rows(),
        permissions=PERMISSIONS,
        errors=errors or {},
        form=form or {},
        selected=(form.getlist("permissions") if form else ["completion"]),
    ), status


@blp.route("/keys", methods=["GET"])
@console_page
def keys() -> tuple[str, int]:
    return render_keys()


@blp.route("/keys", methods=["POST"])
@console_page
def create_key() -> tuple[str, int]:
    check_csrf()
    try:
        body = KeyCreateSchema().load(form_payload(request.form))
    except ValidationError as exc:
        return render_keys(_messages(exc.messages), request.form, 400)
    key, row = services().keystore.create_from(body, source="console")
    return render_template("console/key_created.html", key=key, created=key_dict(row)), 201


@blp.route("/keys/<string:key_id>/revoke", methods=["GET"])
@console_page
def confirm_revoke(key_id: str) -> tuple[str, int]:
    found = next((row for row in key_rows() if row["id"] == key_id and row["status"] != "revoked"), None)
    if found is None:
        raise NotFound("No live key has this id.")
    return render_template("console/revoke.html", key=found), 200


@blp.route("/keys/<string:key_id>/revoke", methods=["POST"])
@console_page
def revoke_key(key_id: str) -> BaseResponse:
    """What `DELETE /api/v1/admin/keys/<id>` does: revoke, then forget this worker's cached answers."""
    check_csrf()
    svc = services()
    if not svc.keystore.revoke(key_id):
        raise NotFound("No live key has this id.")
    svc.authenticator.forget(key_id)
    return redirect(url_for("console.keys", revoked=key_id), code=303)


def _messages(messages: Any) -> dict[str, str]:
    """Marshmallow's messages, one readable line per field."""
    out: dict[str, str] = {}
    for field, problem in messages.items() if isinstance(messages, dict) else [("_schema", messages)]:
        if isinstance(problem, dict):
            problem = [m for sub in problem.values() for m in (sub if isinstance(sub, list) else [sub])]
        out[field] = " ".join(str(p) for p in problem) if isinstance(problem, list) else str(problem)
    return out
