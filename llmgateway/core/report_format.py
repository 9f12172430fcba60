"""Usage-report and key rendering shared by the admin API and the CLI (JSON-ready dicts and CSV)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

FIGURES = (
    "requests",
    "errors",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "saved_cost_usd",
)


def report_window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """A report's inclusive dates, as the admin API and the CLI default them: `end` today (UTC), `start` the
    first of `end`'s month."""
    end = end or today
    return start or end.replace(day=1), end


def report_csv(report: dict[str, Any]) -> str:
    """One row per group (or a single TOTAL row), with a header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", *FIGURES])
    for group in report["groups"]:
        writer.writerow([_csv_safe(group["key"]), *(group[f] for f in FIGURES)])
    writer.writerow(["TOTAL", *(report["totals"][f] for f in FIGURES)])
    return out.getvalue()


def _csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in client-controlled keys (user, model)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def key_dict(row: Any, key: str | None = None) -> dict[str, Any]:
    """A key as the API and CLI show it: never the hash; the key itself only when just created."""
    out: dict[str, Any] = {
        "id": row.id,
        "key_prefix": row.key_prefix,
        "owner": row.owner,
        "permissions": [p for p in row.permissions.split(",") if p],
        "rate_limit": row.rate_limit,
        "tpm_limit": row.tpm_limit,
        "budget_usd": row.budget_usd,
        "budget_period": row.budget_period,
        "source": row.source,
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
    }
    if key is not None:
        out = {"key": key, **out}
    return out
