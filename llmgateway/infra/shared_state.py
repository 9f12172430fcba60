"""Builds what workers and instances share: Redis (when configured), the response cache and the quotas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from llmgateway.config import Settings
from llmgateway.core.admission import Admission, CostEstimator, QuotaAdmission
from llmgateway.core.pricing import PriceList
from llmgateway.core.response_cache import CacheStore
from llmgateway.core.routing import ModelCatalogue
from llmgateway.infra.quota import FallbackQuotaStore, MemoryQuotaStore, RedisQuotaStore, ledger_spend_loader
from llmgateway.infra.redis_client import RedisConnector
from llmgateway.infra.response_store import MemoryResponseStore, RedisResponseStore


@dataclass
class SharedState:
    """Redis-backed when `redis.url` is set; otherwise in-process (the embedded default)."""

    redis: RedisConnector | None
    cache: CacheStore | None
    admission: Admission

    def extras(self) -> dict[str, Any]:
        """Entries for Services.extras (readiness reads `redis_health`; the limiter shares `redis`'s pool)."""
        if self.redis is None:
            return {}
        return {"redis": self.redis, "redis_health": self.redis.health}


def build_shared_state(
    settings: Settings, sessions: sessionmaker[Session], catalogue: ModelCatalogue, prices: PriceList
) -> SharedState:
    redis = RedisConnector(settings.redis) if settings.redis.url else None
    cache_cfg = settings.cache
    cache: CacheStore | None = None
    if cache_cfg.enabled:
        if redis is not None:
            cache = RedisResponseStore(redis, ttl=cache_cfg.ttl, max_entry_bytes=cache_cfg.max_entry_bytes)
        else:
            cache = MemoryResponseStore(ttl=cache_cfg.ttl, max_entry_bytes=cache_cfg.max_entry_bytes)
    load_spent = ledger_spend_loader(sessions, blocking=settings.is_sqlite)
    memory = MemoryQuotaStore(load_spent)
    store = FallbackQuotaStore(RedisQuotaStore(redis, load_spent), memory) if redis is not None else memory
    return SharedState(redis, cache, QuotaAdmission(store, CostEstimator(catalogue, prices)))
