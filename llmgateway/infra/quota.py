"""Quota stores for admission: an atomic Lua check-and-reserve in Redis, an in-process twin, the fallback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from llmgateway.core.admission import (
    ADMITTED,
    BUDGET_EXCEEDED,
    NANO,
    TPM_EXCEEDED,
    TPM_WINDOW,
    QuotaAsk,
    QuotaStore,
    Verdict,
)
from llmgateway.errors import ServiceUnavailable
from llmgateway.infra.db import off_hub
from llmgateway.infra.models import UsageRecord
from llmgateway.infra.redis_client import RedisConnector, RedisUnavailable

log = logging.getLogger(__name__)

#: Spent so far in a budget period, read from the ledger when the period's counter does not exist yet; raises
#: SpendUnavailable when it cannot be read (a budgeted key is then refused, never given a guessed counter).
SpendLoader = Callable[[str, datetime], float]
#: Seconds a client is asked to wait when a budget cannot be checked (the ledger database is unreachable).
SPEND_RETRY_AFTER = 5.0


class SpendUnavailable(ServiceUnavailable):
    """A budgeted key's spend for the period cannot be read: fail closed (503) rather than forgive the budget."""

    default_message = "The key's spend budget cannot be checked right now (the ledger is unreachable); retry shortly."


# KEYS: tpm current minute, tpm previous minute, budget period.
# ARGV: tokens, tpm limit (-1 none), previous-minute weight, budget nano-USD (-1 none), cost nano-USD,
#       seed nano-USD (-1 unknown), budget key ttl, tpm key ttl.
# Returns {0} admitted, {1, used} tokens exceeded, {2, spent} budget exceeded, {3} budget needs a seed.
RESERVE_LUA = """
local tokens = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local used = 0
if tpm >= 0 then
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
  used = math.floor(prev * tonumber(ARGV[3])) + cur
  if used + tokens > tpm then return {1, used} end
end
local budget = tonumber(ARGV[4])
if budget >= 0 then
  local spent = redis.call('GET', KEYS[3])
  if not spent then
    if tonumber(ARGV[6]) < 0 then return {3, 0} end
    spent = ARGV[6]
    redis.call('SET', KEYS[3], spent, 'EX', ARGV[7])
  end
  spent = tonumber(spent)
  local cost = tonumber(ARGV[5])
  if spent >= budget or spent + cost > budget then return {2, spent} end
  if cost > 0 then redis.call('INCRBY', KEYS[3], cost) end
end
if tpm >= 0 and tokens > 0 then
  redis.call('INCRBY', KEYS[1], tokens)
  redis.call('EXPIRE', KEYS[1], ARGV[8])
end
return {0, used}
"""

# KEYS: tpm minute, budget period. ARGV: token delta, cost delta (nano-USD). Expired counters stay gone.
ADJUST_LUA = """
if tonumber(ARGV[1]) ~= 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[1]) end
if tonumber(ARGV[2]) ~= 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], ARGV[2]) end
return 1
"""

OUTCOMES = {0: ADMITTED, 1: TPM_EXCEEDED, 2: BUDGET_EXCEEDED}


def _tpm_key(ask: QuotaAsk, window: int) -> str:
    return f"tpm:{ask.key_id}:{window}"


def _budget_key(ask: QuotaAsk) -> str:
    return f"spend:{ask.key_id}:{ask.period}"


class RedisQuotaStore:
    """Shared by every worker and instance; one Lua script checks and reserves, so nothing overshoots."""

    def __init__(self, redis: RedisConnector, load_spent: SpendLoader) -> None:
        self._redis = redis
        self._prefix = f"{redis.prefix}quota:"
        self._load_spent = load_spent
        self._reserve = redis.client.register_script(RESERVE_LUA)
        self._adjust = redis.client.register_script(ADJUST_LUA)

    def _keys(self, ask: QuotaAsk) -> list[str]:
        return [
            self._prefix + _tpm_key(ask, ask.window),
            self._prefix + _tpm_key(ask, ask.window - 1),
            self._prefix + _budget_key(ask),
        ]

    def reserve(self, ask: QuotaAsk) -> Verdict:
        seed = -1
        for _ in range(2):
            args = [
                ask.tokens,
                -1 if ask.tpm_limit is None else ask.tpm_limit,
                ask.prev_weight,
                -1 if ask.budget_nano is None else ask.budget_nano,
                ask.cost_nano,
                seed,
                int(ask.period_seconds_left) + 86_400,
                TPM_WINDOW * 3,
            ]
            code, used = self._redis.run(partial(self._reserve_once, self._keys(ask), args))
            if code != 3:
                return Verdict(OUTCOMES[int(code)], int(used), self)
            seed = round(self._load_spent(ask.key_id, ask.period_start) * NANO)
        raise RedisUnavailable("budget counter could not be seeded")  # pragma: no cover - Redis lost the key twice

    def _reserve_once(self, keys: list[str], args: list[float], client: redis.Redis) -> Any:
        return self._reserve(keys=keys, args=args, client=client)

    def adjust(self, ask: QuotaAsk, tokens_delta: int, cost_delta_nano: int) -> None:
        keys = [self._prefix + _tpm_key(ask, ask.window), self._prefix + _budget_key(ask)]
        try:
            self._redis.run(lambda r: self._adjust(keys=keys, args=[tokens_delta, cost_delta_nano], client=r))
        except RedisUnavailable:
            log.warning("quota settlement lost: redis unavailable")


class MemoryQuotaStore:
    """The same arithmetic in one process: the embedded default, and the per-worker fallback."""

    def __init__(self, load_spent: SpendLoader) -> None:
        self._load_spent = load_spent
        self._counters: dict[str, tuple[float, int]] = {}  # key -> (expires at, value)
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def _get(self, key: str, now: float) -> int | None:
        entry = self._counters.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def reserve(self, ask: QuotaAsk) -> Verdict:
        budget_key = _budget_key(ask)
        seed: int | None = None
        if ask.budget_nano is not None and self._get(budget_key, time.monotonic()) is None:
            seed = round(self._load_spent(ask.key_id, ask.period_start) * NANO)  # outside the lock
        with self._lock:
            now = time.monotonic()
            self._prune(now)
            used = 0
            if ask.tpm_limit is not None:
                current = self._get(_tpm_key(ask, ask.window), now) or 0
                previous = self._get(_tpm_key(ask, ask.window - 1), now) or 0
                used = int(previous * ask.prev_weight) + current
                if used + ask.tokens > ask.tpm_limit:
                    return Verdict(TPM_EXCEEDED, used, self)
            if ask.budget_nano is not None:
                spent = self._get(budget_key, now)
                if spent is None:
                    spent = seed or 0
                    self._counters[budget_key] = (now + ask.period_seconds_left + 86_400, spent)
                if spent >= ask.budget_nano or spent + ask.cost_nano > ask.budget_nano:
                    return Verdict(BUDGET_EXCEEDED, spent, self)
                self._add(budget_key, ask.cost_nano, now)
            if ask.tpm_limit is not None and ask.tokens:
                key = _tpm_key(ask, ask.window)
                if self._get(key, now) is None:
                    self._counters[key] = (now + TPM_WINDOW * 3, 0)
                self._add(key, ask.tokens, now)
            return Verdict(ADMITTED, used, self)

    def adjust(self, ask: QuotaAsk, tokens_delta: int, cost_delta_nano: int) -> None:
        with self._lock:
            now = time.monotonic()
            if tokens_delta:
                self._add(_tpm_key(ask, ask.window), tokens_delta, now)
            if cost_delta_nano:
                self._add(_budget_key(ask), cost_delta_nano, now)

    def _add(self, key: str, delta: int, now: float) -> None:
        entry = self._counters.get(key)
        if entry is not None and entry[0] > now:
            self._counters[key] = (entry[0], entry[1] + delta)

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + TPM_WINDOW
        for key in [k for k, (expires, _) in self._counters.items() if expires <= now]:
            del self._counters[key]


class FallbackQuotaStore:
    """Redis while it answers; this worker's memory while it does not (declared degraded mode)."""

    def __init__(self, primary: RedisQuotaStore, fallback: QuotaStore) -> None:
        self._primary = primary
        self._fallback = fallback

    def reserve(self, ask: QuotaAsk) -> Verdict:
        try:
            return self._primary.reserve(ask)
        except RedisUnavailable:
            return self._fallback.reserve(ask)

    def adjust(self, ask: QuotaAsk, tokens_delta: int, cost_delta_nano: int) -> None:
        self._primary.adjust(ask, tokens_delta, cost_delta_nano)  # pragma: no cover - verdicts name their store


def ledger_spend_loader(sessions: sessionmaker[Session], *, blocking: bool) -> SpendLoader:
    """Spend already in the ledger for a key since a moment (cached hits cost 0 there)."""

    def load(key_id: str, since: datetime) -> float:
        def query() -> float:
            with sessions() as session:
                total = session.scalar(
                    select(func.coalesce(func.sum(UsageRecord.cost_usd), 0.0)).where(
                        UsageRecord.api_key_id == key_id, UsageRecord.created_at >= since
                    )
                )
                return float(total or 0.0)

        try:
            return off_hub(query) if blocking else query()
        except SQLAlchemyError as exc:
            # Never a guess: seeding 0 would hand the key a fresh budget for the rest of the period.
            log.warning(
                "ledger unreachable (%s): the budget counter of key %s is not seeded; refusing the request",
                type(exc).__name__,
                key_id,
            )
            raise SpendUnavailable(retry_after=SPEND_RETRY_AFTER) from exc

    return load
