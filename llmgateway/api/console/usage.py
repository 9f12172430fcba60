"""The usage page and its CSV export: the API's report queries (infra/reports.py), drawn as charts and tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, render_template, request

from llmgateway.api.console.auth import console_page
from llmgateway.api.console.views import blp
from llmgateway.core.report_format import report_csv
from llmgateway.errors import InvalidRequest
from llmgateway.infra.reports import usage_breakdowns, usage_report
from llmgateway.services import services

DEFAULT_DAYS = 30
MAX_DAYS = 366
#: Rows per breakdown on the page (the costliest first); the CSV export has them all.
TOP = 25
#: The breakdowns the page shows, in order, with their column heading and the noun used in sentences.
BREAKDOWNS = {
    "model": ("Model", "model"),
    "provider": ("Provider", "provider"),
    "api_key": ("API key", "API key"),
    "user": ("User", "user"),
}
CSV_DIMENSIONS = ("day", *BREAKDOWNS)
#: Headings of the report's figures; a figure the report gains later is shown under a name made from its key.
FIGURE_LABELS = {
    "requests": "Requests",
    "errors": "Errors",
    "cache_hits": "Cache hits",
    "prompt_tokens": "Prompt tokens",
    "completion_tokens": "Completion tokens",
    "total_tokens": "Total tokens",
    "cached_tokens": "Cached prompt tokens",
    "cache_write_tokens": "Cache-write tokens",
    "reasoning_tokens": "Reasoning tokens",
    "cost_usd": "Cost (USD)",
    "saved_cost_usd": "Saved by the cache (USD)",
}
#: What the per-day chart can show.
CHART_METRICS = ("requests", "total_tokens", "cost_usd", "saved_cost_usd")


class RangeError(ValueError):
    """The chosen date range cannot be reported."""


def chosen_range(args: Any) -> tuple[date, date]:
    """The inclusive UTC date range from `start`/`end` (YYYY-MM-DD); the last 30 days by default."""
    today = datetime.now(UTC).date()
    try:
        end = date.fromisoformat(args["end"]) if args.get("end") else today
        start = date.fromisoformat(args["start"]) if args.get("start") else end - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError as exc:
        raise RangeError("Dates must be written YYYY-MM-DD.") from exc
    if end < start:
        raise RangeError("The end date must not be before the start date.")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeError(f"Choose at most {MAX_DAYS} days.")
    return start, end


def figure_label(name: str) -> str:
    return FIGURE_LABELS.get(name) or name.replace("_usd", " (USD)").replace("_", " ").capitalize()


def key_labels() -> dict[str, str]:
    """API key id → "owner (prefix…)", for the key breakdown."""
    return {row.id: f"{row.owner} ({row.key_prefix[:12]}…)" for row in services().keystore.list()}


def per_day(report: dict[str, Any], start: date, end: date) -> dict[str, Any]:
    """Every day of the range (days without traffic as zeros) with the chart's metrics."""
    by_day = {group["key"]: group for group in report["breakdowns"]["day"]}
    days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    return {"labels": days, "series": {m: [by_day.get(day, {}).get(m, 0) for day in days] for m in CHART_METRICS}}


def top_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The TOP costliest groups (then the busiest), costliest first."""
    return sorted(groups, key=lambda group: (-group["cost_usd"], -group["requests"]))[:TOP]


def breakdown_chart(shown: list[dict[str, Any]], labels: dict[str, str] | None) -> dict[str, Any]:
    return {
        "labels": [_label(group["key"], labels) for group in shown],
        "series": {m: [group[m] for group in shown] for m in ("requests", "total_tokens", "cost_usd")},
    }


def _label(key: Any, labels: dict[str, str] | None) -> str:
    if key is None:
        return "(none)"
    return labels.get(key, str(key)) if labels else str(key)


@blp.route("/usage")
@console_page
def usage() -> tuple[str, int]:
    try:
        start, end = chosen_range(request.args)
    except RangeError as exc:
        today = datetime.now(UTC).date()
        return render_template(
            "console/usage.html",
            error=str(exc),
            start=request.args.get("start", ""),
            end=request.args.get("end", ""),
            today=today.isoformat(),
            report=None,
        ), 400
    report = usage_breakdowns(services().sessions, start, end, CSV_DIMENSIONS)
    labels = key_labels()
    breakdowns = []
    for dimension, (title, noun) in BREAKDOWNS.items():
        groups = report["breakdowns"][dimension]
        shown = top_groups(groups)
        names = labels if dimension == "api_key" else None
        breakdowns.append(
            {
                "dimension": dimension,
                "title": title,
                "noun": noun,
                "total": len(groups),
                "rows": [{"label": _label(g["key"], names), **g} for g in shown],
                "chart": breakdown_chart(shown, names),
            }
        )
    chart_data = {
        "days": per_day(report, start, end),
        "breakdowns": {b["dimension"]: b["chart"] for b in breakdowns},
        "labels": {m: figure_label(m) for m in CHART_METRICS},
    }
    return render_template(
        "console/usage.html",
        error=None,
        start=start.isoformat(),
        end=end.isoformat(),
        today=datetime.now(UTC).date().isoformat(),
        report=report,
        totals=report["totals"],
        figures=list(report["totals"]),
        figure_label=figure_label,
        days=report["breakdowns"]["day"],
        breakdowns=breakdowns,
        chart_data=chart_data,
        chart_metrics=CHART_METRICS,
        csv_dimensions=CSV_DIMENSIONS,
    ), 200


@blp.route("/usage.csv")
@console_page
def usage_csv() -> Response:
    """The API's CSV (`GET /api/v1/admin/usage?format=csv`) for the chosen range and grouping."""
    try:
        start, end = chosen_range(request.args)
    except RangeError as exc:
        raise InvalidRequest(str(exc)) from exc
    group_by = request.args.get("by", "day")
    if group_by not in CSV_DIMENSIONS:
        raise InvalidRequest(f"by must be one of {', '.join(CSV_DIMENSIONS)}.", param="by")
    report = usage_report(services().sessions, start, end, group_by)
    filename = f"usage-{group_by}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        report_csv(report), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
