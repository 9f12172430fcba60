"""One usage call: what a request did, assembled as it goes and recorded exactly once when it ends."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from llmgateway.core.keys import Principal
from llmgateway.providers.types import Usage


class UsageSink(Protocol):
    def record(self, row: dict[str, Any]) -> None: ...


@dataclass
class UsageCall:
    """Mutable per-request state for the ledger record and the request log line."""

    endpoint: str
    principal: Principal | None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_request_id: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    started: float = field(default_factory=time.perf_counter)
    model: str | None = None
    provider: str | None = None
    provider_model: str | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    usage: Usage | None = None
    cost_usd: float = 0.0
    saved_cost_usd: float = 0.0
    cached: bool = False
    cache_status: str = "BYPASS"
    streamed: bool = False
    fallback_from: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    ttft_ms: float | None = None
    upstream_ms: float = 0.0
    status: int | None = None
    error_code: str | None = None
    recorded: bool = False

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = round(self.elapsed_ms(), 2)

    def conclude(self, status: int, error_code: str | None = None) -> None:
        """Set the outcome before the record is written (a stream knows it; the HTTP status does not tell it)."""
        self.status = status
        self.error_code = error_code if status >= 400 or error_code else None

    def finish(self, sink: UsageSink, status: int, error_code: str | None = None) -> bool:
        """Record once with the concluded outcome, else with the given one; later calls are ignored."""
        if self.recorded:
            return False
        self.recorded = True
        if self.status is None:
            self.conclude(status, error_code)
        sink.record(self.row())
        return True

    def row(self) -> dict[str, Any]:
        usage = self.usage or Usage()
        principal = self.principal
        return {
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "created_at": self.created_at,
            "api_key_id": principal.key_id if principal else None,
            "owner": principal.owner if principal else None,
            "user": self.user,
            "endpoint": self.endpoint,
            "model": self.model,
            "provider": self.provider,
            "provider_model": self.provider_model,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "tokens_estimated": usage.estimated,
            "tokens_clamped": usage.clamped,
            "cost_usd": self.cost_usd,
            "saved_cost_usd": self.saved_cost_usd,
            "latency_ms": round(self.elapsed_ms(), 2),
            "ttft_ms": self.ttft_ms,
            "status_code": self.status,
            "error_code": self.error_code,
            "cached": self.cached,
            "streamed": self.streamed,
            "fallback_from": self.fallback_from,
            "attempts": self.attempts or None,
            "metadata": self.metadata,  # column names: rows go to a Core insert
            "error_detail": None,
        }
