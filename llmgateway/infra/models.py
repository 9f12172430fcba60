"""SQLAlchemy models of the ledger (API keys and usage records) and of stored Responses-API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base; Alembic generates migrations from its metadata."""


class ApiKey(Base):
    """A caller's key: only its HMAC and public prefix are stored, never the key itself."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_prefix: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    permissions: Mapped[str] = mapped_column(String(100), nullable=False)  # comma-separated
    rate_limit: Mapped[str | None] = mapped_column(String(100))
    tpm_limit: Mapped[int | None] = mapped_column(Integer)
    budget_usd: Mapped[float | None] = mapped_column(Float)
    budget_period: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="api")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


#: Token-detail columns added after the first release (migration 0006): rows spooled by an older version lack them.
USAGE_DETAIL_COLUMNS = ("cached_tokens", "cache_write_tokens", "reasoning_tokens")
REPORT_COLUMNS = (
    "provider",
    "model",
    "api_key_id",
    "user",
    "owner",
    "status_code",
    "cached",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "saved_cost_usd",
    *USAGE_DETAIL_COLUMNS,
)


class UsageRecord(Base):
    """One row per authenticated usage request, keyed by the gateway's own request id."""

    __tablename__ = "usage_records"
    __table_args__ = (
        # Reports filter on a time window and aggregate these columns: on PostgreSQL the window is read from the
        # index alone (index-only scan); elsewhere it is a plain created_at index.
        Index("ix_usage_report", "created_at", postgresql_include=list(REPORT_COLUMNS)),
        Index("ix_usage_key_created", "api_key_id", "created_at"),
    )

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    owner: Mapped[str | None] = mapped_column(String(200))
    user: Mapped[str | None] = mapped_column(String(256))
    endpoint: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str | None] = mapped_column(String(256))
    provider: Mapped[str | None] = mapped_column(String(64))
    provider_model: Mapped[str | None] = mapped_column(String(256))
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Parts of prompt_tokens (cache reads, cache writes) and of completion_tokens (reasoning). Server defaults keep
    # an older instance's inserts working during a rolling upgrade.
    cached_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    cache_write_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    reasoning_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The provider reported absurd counts (negative, non-integer, over 2**31-1): they were clamped; audit the row.
    tokens_clamped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    saved_cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(64))
    cached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    streamed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    fallback_from: Mapped[str | None] = mapped_column(String(256))
    attempts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    request_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    error_detail: Mapped[str | None] = mapped_column(Text)


class UsageDeadLetter(Base):
    """A usage row the database refused for its data, set aside whole so the drain goes on (`flask usage
    dead-letters` lists them); keyed by a hash of the row, so setting the same row aside twice keeps one."""

    __tablename__ = "usage_dead_letters"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(200))
    failed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    error: Mapped[str] = mapped_column(Text, nullable=False)
    row: Mapped[str] = mapped_column(Text, nullable=False)  # the spooled JSON line, as written


class StoredResponse(Base):
    """A /v1/responses answer kept for `previous_response_id` and GET/DELETE; readable by its key owner only."""

    __tablename__ = "stored_responses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # the Response object as answered
    input_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)  # the whole conversation's input
