"""Where breaker state lives: in Redis (shared by every worker and instance), mirrored in each worker's memory
and served from there while Redis is unreachable, so a Redis outage never fails or slows a request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import redis
from pybreaker import STATE_CLOSED, CircuitBreakerStorage, CircuitRedisStorage

from llmgateway.infra.redis_client import RedisConnector


class _GuardedRedis:
    """What CircuitRedisStorage sees as its client: every command goes through the worker's connector."""

    def __init__(self, redis_connector: RedisConnector) -> None:
        self._redis = redis_connector

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: self._redis.run(lambda client: getattr(client, name)(*args, **kwargs))


class _Silent:
    """CircuitRedisStorage logs a traceback for every failed command; the connector reports an outage once."""

    def exception(self, *args: Any, **kwargs: Any) -> None:
        pass


class _SharedStorage(CircuitRedisStorage):
    logger = _Silent()  # type: ignore[assignment]

    def _initialize_redis_state(self, state: str) -> None:
        try:
            super()._initialize_redis_state(state)
        except redis.RedisError:
            pass  # retried by the state getter once Redis is back


class _Flight:
    """One state read in progress: its answer (None when Redis failed) once `done` is set."""

    __slots__ = ("answer", "done")

    def __init__(self) -> None:
        self.answer: tuple[str, int] | None = None
        self.done = threading.Event()


class FailoverStorage(CircuitBreakerStorage):
    """pybreaker storage: CircuitRedisStorage under its own namespace when Redis is configured and reachable,
    with a per-worker copy that answers while it is not. Also holds the half-open probe claim."""

    def __init__(self, redis_connector: RedisConnector | None, namespace: str) -> None:
        super().__init__("redis" if redis_connector else "memory")
        self._redis = redis_connector
        self._namespace = namespace
        self._shared: _SharedStorage | None = None
        self._state = STATE_CLOSED
        self._fails = 0
        self._successes = 0
        self._opened_at: datetime | None = None
        self._probe_until = 0.0
        self._flight: _Flight | None = None  # the state read in progress, shared by calls arriving meanwhile
        self._flight_lock = threading.Lock()

    # -- pybreaker's storage interface ------------------------------------------------------------
    @property
    def state(self) -> str:
        self._state = self._read("state", self._state)
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        self._state = state
        self._write(lambda shared: setattr(shared, "state", state))

    def increment_counter(self) -> None:
        self._fails += 1
        self._write(lambda shared: shared.increment_counter())

    def reset_counter(self) -> None:
        self._fails = 0
        self._write(lambda shared: shared.reset_counter())

    def increment_success_counter(self) -> None:
        self._successes += 1
        self._write(lambda shared: shared.increment_success_counter())

    def reset_success_counter(self) -> None:
        self._successes = 0
        self._write(lambda shared: shared.reset_success_counter())

    @property
    def counter(self) -> int:
        self._fails = self._read("counter", self._fails)
        return self._fails

    @property
    def success_counter(self) -> int:
        self._successes = self._read("success_counter", self._successes)
        return self._successes

    @property
    def opened_at(self) -> datetime | None:
        self._opened_at = self._read("opened_at", self._opened_at)
        return self._opened_at

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._opened_at = now
        self._write(lambda shared: setattr(shared, "opened_at", now))

    def state_and_failures(self) -> tuple[str, int]:
        """The state and the failure count in one round trip (pybreaker reads them one GET each). Calls that
        arrive while a read is in flight share its answer instead of sending their own: under load that saves
        most of the round trips, and the answer is never older than the read they waited for."""
        connector = self._connector()
        shared = self._remote()
        if connector is None or shared is None:
            return self._state, self._fails
        with self._flight_lock:
            flight = self._flight
            leader = flight is None
            if flight is None:
                flight = self._flight = _Flight()
        if not leader:
            flight.done.wait(connector.longest_wait)
            return flight.answer or (self._state, self._fails)
        try:
            flight.answer = self._read_state_and_failures(connector, shared)
        finally:
            with self._flight_lock:
                self._flight = None
            flight.done.set()
        return flight.answer or (self._state, self._fails)

    def _read_state_and_failures(self, connector: RedisConnector, shared: _SharedStorage) -> tuple[str, int] | None:
        try:
            keys = shared._namespace("state"), shared._namespace("fail_counter")
            state, fails = connector.run(lambda c: c.mget(*keys))
        except redis.RedisError:
            return None
        if state is None:  # missing (expired or flushed): pybreaker's getter re-initialises it
            return self.state, self.counter
        self._state, self._fails = state.decode() if isinstance(state, bytes) else str(state), int(fails or 0)
        return self._state, self._fails

    def last_seen(self) -> tuple[str, datetime | None]:
        """The state and opening time this worker last read or wrote, without asking Redis."""
        return self._state, self._opened_at

    # -- the probe claim: one trial call at a time across the fleet --------------------------------
    def claim_probe(self, ttl: float) -> bool:
        """Claim the right to send the half-open trial call for `ttl` seconds; False if someone holds it."""
        connector = self._connector()
        if connector is not None:
            try:
                return bool(connector.run(lambda c: c.set(self._key("probe"), b"1", nx=True, px=int(ttl * 1000))))
            except redis.RedisError:
                pass
        now = time.monotonic()
        if now < self._probe_until:
            return False
        self._probe_until = now + ttl
        return True

    def release_probe(self) -> None:
        self._probe_until = 0.0
        connector = self._connector()
        if connector is not None:
            try:
                connector.run(lambda c: c.delete(self._key("probe")))
            except redis.RedisError:
                pass

    # -- plumbing ----------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return f"{self._namespace}:{name}"

    def _connector(self) -> RedisConnector | None:
        """The worker's Redis connector while Redis is configured and not marked down, else None."""
        return self._redis if self._redis is not None and self._redis.available else None

    def _usable(self) -> bool:
        return self._connector() is not None

    def _remote(self) -> _SharedStorage | None:
        connector = self._connector()
        if connector is None:
            return None
        if self._shared is None:
            stand_in = cast(redis.Redis, _GuardedRedis(connector))  # answers each Redis method the storage uses
            self._shared = _SharedStorage(STATE_CLOSED, stand_in, namespace=self._namespace)
        return self._shared

    def _read(self, name: str, local: Any) -> Any:
        shared = self._remote()
        if shared is None:
            return local
        value = getattr(shared, name)
        return value if self._usable() else local  # the read failed: CircuitRedisStorage returned its fallback

    def _write(self, change: Callable[[_SharedStorage], None]) -> None:
        shared = self._remote()
        if shared is not None:
            change(shared)
