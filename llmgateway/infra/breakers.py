"""Circuit breakers per provider deployment (provider + base URL + provider model), on pybreaker (SPEC §5).

The executor drives each call as admit → record_success/record_failure/record_neutral, never holding the breaker's
lock across the protected call (pybreaker's call() does, serialising every greenlet; pybreaker issue #3), so
pybreaker's own call() is not used. Outcomes are three-way: upstream faults count, successes reset the
count, and neutral outcomes (429/4xx, client disconnects) change nothing. In half-open state exactly one
trial call is let through, fleet-wide when Redis is configured.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from pybreaker import (
    STATE_CLOSED,
    STATE_OPEN,
    CircuitBreaker,
    CircuitBreakerListener,
    CircuitBreakerState,
)

from llmgateway.config import CircuitBreakerConfig
from llmgateway.errors import ServiceUnavailable
from llmgateway.infra.breaker_storage import FailoverStorage
from llmgateway.infra.redis_client import RedisConnector

log = logging.getLogger(__name__)


class BreakerOpen(ServiceUnavailable):
    """The deployment's breaker is open: failing fast without calling the upstream."""

    default_message = "The upstream deployment is failing; the gateway is not sending it requests for now."


@dataclass(frozen=True, slots=True)
class Ticket:
    """Admission to one protected call; `probe` marks the half-open trial call, `failures` the count seen at
    admission (a success only has to reset a count that was not already zero)."""

    probe: bool = False
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Deployment:
    provider: str
    base_url: str
    model: str

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}@{self.base_url}"


class DeploymentBreaker(CircuitBreaker):
    """A pybreaker CircuitBreaker (its state machine and storage) with lock-free admission, neutral outcomes
    and a single half-open probe."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        fail_max: int,
        reset_timeout: float,
        storage: FailoverStorage,
        listeners: list[CircuitBreakerListener] | None = None,
    ) -> None:
        super().__init__(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            listeners=listeners,
            state_storage=storage,
            name=deployment.name,
        )
        self.deployment = deployment
        self.storage = storage

    # -- the call protocol ------------------------------------------------------------------------
    def admit(self) -> Ticket:
        """Let a call through, or raise BreakerOpen (503 with Retry-After) without touching the upstream.
        A closed breaker costs one Redis round trip (state and failure count read together)."""
        state, failures = self.storage.state_and_failures()
        if state == STATE_CLOSED:
            return Ticket(failures=failures)
        if state == STATE_OPEN:
            wait = self.seconds_until_half_open()
            if wait > 0:
                raise BreakerOpen(retry_after=max(1.0, math.ceil(wait)))
        if not self.storage.claim_probe(max(self.reset_timeout, 1.0)):
            raise BreakerOpen(retry_after=1.0)  # another call is probing; its verdict comes soon
        if state == STATE_OPEN:
            self.half_open()
        return Ticket(probe=True)

    def record_success(self, ticket: Ticket) -> None:
        if ticket.probe:
            self.close()  # resets the failure count
            self.storage.release_probe()
        elif ticket.failures:
            self.storage.reset_counter()
        for listener in self.listeners:
            listener.success(self)

    def record_failure(self, ticket: Ticket | None, exc: BaseException | None = None) -> None:
        """An upstream fault; `ticket` None for a stream that failed after it opened."""
        self._inc_counter()
        for listener in self.listeners:
            listener.failure(self, exc or RuntimeError("upstream failure"))
        if ticket is not None and ticket.probe:
            self.open()
            self.storage.release_probe()
        elif self.storage.state == STATE_CLOSED and self.storage.counter >= self.fail_max:
            self.open()

    def record_neutral(self, ticket: Ticket) -> None:
        """Neither a fault nor a success (429/4xx, client gone): a probe's claim is just handed back."""
        if ticket.probe:
            self.storage.release_probe()

    def known_open(self) -> bool:
        """Whether this worker last saw the breaker open and not yet due for its trial call (no Redis read):
        the balancer skips such a deployment; a stale view is corrected by the next `admit`."""
        state, opened_at = self.storage.last_seen()
        if state != STATE_OPEN or opened_at is None:
            return False
        return (datetime.now(UTC) - opened_at).total_seconds() < self.reset_timeout

    # -- reporting --------------------------------------------------------------------------------
    def seconds_until_half_open(self) -> float:
        opened_at = self.storage.opened_at
        if opened_at is None:
            return 0.0
        return (opened_at - datetime.now(UTC)).total_seconds() + self.reset_timeout

    def snapshot(self) -> dict[str, Any]:
        state = self.storage.state
        opened_at = self.storage.opened_at if state != STATE_CLOSED else None
        retry_after = None
        if state == STATE_OPEN:
            retry_after = max(0, math.ceil(self.seconds_until_half_open()))
        return {
            "name": self.deployment.name,
            "provider": self.deployment.provider,
            "model": self.deployment.model,
            "state": state.replace("-", "_"),
            "failures": self.storage.counter,
            "opened_at": opened_at.isoformat() if opened_at else None,
            "retry_after": retry_after,
        }


class _StateLog(CircuitBreakerListener):
    def state_change(
        self, cb: CircuitBreaker, old_state: CircuitBreakerState | None, new_state: CircuitBreakerState
    ) -> None:
        old = old_state.name if old_state else None
        level = logging.WARNING if new_state.name == STATE_OPEN else logging.INFO
        log.log(level, "circuit breaker %s: %s -> %s", cb.name, old, new_state.name)


class BreakerBoard:
    """Every deployment's breaker in this worker, created on first use; state shared through Redis if set."""

    def __init__(self, config: CircuitBreakerConfig, redis_connector: RedisConnector | None) -> None:
        self.config = config
        self._prefix = f"{redis_connector.prefix if redis_connector else ''}cb:"
        self._redis = redis_connector  # the worker's connector, owned (and closed) by the services
        self._breakers: dict[Deployment, DeploymentBreaker] = {}
        self._unregistered: set[Deployment] = set()  # first seen while Redis failed: not yet in the fleet index
        self._lock = threading.Lock()
        self._listeners: list[CircuitBreakerListener] = [_StateLog()]

    def add_listener(self, listener: CircuitBreakerListener) -> None:
        """Also tell `listener` about every breaker's state changes (add before the first request)."""
        self._listeners.append(listener)

    def breaker(self, provider: str, base_url: str, model: str) -> DeploymentBreaker:
        deployment = Deployment(provider, base_url, model)
        found = self._breakers.get(deployment)
        if found is not None:
            if self._unregistered:
                self._register_pending()
            return found
        created = DeploymentBreaker(
            deployment,
            fail_max=self.config.fail_max,
            reset_timeout=self.config.reset_timeout,
            storage=FailoverStorage(self._redis, self._prefix + deployment.name),
            listeners=self._listeners,
        )
        with self._lock:
            found = self._breakers.setdefault(deployment, created)
        if found is created:
            self._register(deployment)
        return found

    def snapshot(self) -> list[dict[str, Any]]:
        """Every breaker this worker knows, plus those other workers and instances registered in Redis."""
        self._register_pending()
        for deployment in self._registered():
            self.breaker(deployment.provider, deployment.base_url, deployment.model)
        return sorted((b.snapshot() for b in list(self._breakers.values())), key=lambda s: s["name"])

    def _register(self, deployment: Deployment) -> bool:
        """Add the deployment to the fleet-wide index; when Redis fails, remember it to register again later."""
        if self._redis is None:
            return True
        entry = json.dumps(
            {"provider": deployment.provider, "base_url": deployment.base_url, "model": deployment.model}
        )
        try:
            self._redis.run(lambda c: c.hset(self._prefix + "index", deployment.name, entry))
        except redis.RedisError:
            with self._lock:
                self._unregistered.add(deployment)
            return False
        with self._lock:
            self._unregistered.discard(deployment)
        return True

    def _register_pending(self) -> None:
        """Register the deployments a Redis failure kept out of the index, once Redis is up again (the connector
        skips Redis for its retry interval after a failure, so a lasting outage costs nothing per request)."""
        if not self._unregistered or self._redis is None or not self._redis.available:
            return
        for deployment in list(self._unregistered):
            if not self._register(deployment):
                return

    def _registered(self) -> list[Deployment]:
        if self._redis is None or not self._redis.available:
            return []
        try:
            entries = self._redis.run(lambda c: c.hvals(self._prefix + "index"))
        except redis.RedisError:
            return []
        out = []
        for raw in entries:
            try:
                data = json.loads(raw)
                out.append(Deployment(data["provider"], data["base_url"], data["model"]))
            except (ValueError, KeyError, TypeError):
                continue
        return out
