"""Helpers for the ledger tests: rows, counts and a gateway-shaped row factory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from llmgateway.infra.models import UsageRecord


def usage_row(**fields: Any) -> dict[str, Any]:
    """A complete usage row as UsageCall.row() produces it."""
    row: dict[str, Any] = {
        "request_id": str(uuid.uuid4()),
        "client_request_id": None,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "api_key_id": "key-1",
        "owner": "Team A",
        "user": None,
        "endpoint": "completion",
        "model": "openai.gpt-4o-mini",
        "provider": "openai",
        "provider_model": "gpt-4o-mini",
        "prompt_tokens": 3,
        "completion_tokens": 5,
        "total_tokens": 8,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "tokens_estimated": False,
        "cost_usd": 0.0001,
        "saved_cost_usd": 0.0,
        "latency_ms": 12.5,
        "ttft_ms": None,
        "status_code": 200,
        "error_code": None,
        "cached": False,
        "streamed": False,
        "fallback_from": None,
        "attempts": None,
        "request_metadata": None,
        "error_detail": None,
    }
    row.update(fields)
    return row


def count_rows(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(UsageRecord)))


def request_ids(sessions: Any) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(UsageRecord.request_id)))
