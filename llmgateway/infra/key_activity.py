"""Per-key activity from the ledger: when each key was last used and what it spent since a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from llmgateway.infra.db import db_call
from llmgateway.infra.models import ApiKey, UsageRecord


@dataclass(frozen=True, slots=True)
class KeyActivity:
    """A key's last request and its spend in its budget period (the month for keys without a budget)."""

    last_used: datetime | None
    period_spend_usd: float


def key_activity(sessions: sessionmaker[Session], day_start: datetime, month_start: datetime) -> dict[str, KeyActivity]:
    """Activity of every key; each figure is one lookup on the (api_key_id, created_at) index per key."""
    record = UsageRecord
    since = case((ApiKey.budget_period == "day", day_start), else_=month_start)
    last_used = (
        select(func.max(record.created_at)).where(record.api_key_id == ApiKey.id).correlate(ApiKey).scalar_subquery()
    )
    spend = (
        select(func.coalesce(func.sum(record.cost_usd), 0.0))
        .where(record.api_key_id == ApiKey.id, record.created_at >= since)
        .correlate(ApiKey)
        .scalar_subquery()
    )

    def query() -> dict[str, KeyActivity]:
        with sessions() as session:
            rows = session.execute(select(ApiKey.id, last_used.label("last_used"), spend.label("spend"))).all()
        return {row.id: KeyActivity(row.last_used, float(row.spend or 0.0)) for row in rows}

    return db_call(sessions.kw["bind"], query)
