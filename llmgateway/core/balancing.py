"""Load balancing over a model's deployments: which deployment to try first, and in what order after it.

Strategies (SPEC §10): `weighted` (smooth weighted round robin: exact shares, no randomness), `least_busy`
(fewest requests in flight per unit of weight, counted fleet-wide), `latency` (lowest moving average of recent
response time: latency of plain calls, time to first byte of streams) and `ordered` (as configured). Deployments
that are cooling down after a 429 or whose breaker is open are left out while anything else can answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from llmgateway.errors import RateLimitExceeded

STRATEGIES = ("weighted", "least_busy", "latency", "ordered")
DEFAULT_STRATEGY = "weighted"
#: Every this many decisions the `latency` strategy tries its second best first, so a deployment that was slow
#: once is measured again instead of being shunned for ever.
EXPLORE_EVERY = 20


@dataclass(frozen=True, slots=True)
class Deployment:
    """One place a model is served: a named provider, its model (or Azure deployment) id and a weight."""

    provider: str
    provider_model: str
    weight: float = 1.0

    @property
    def key(self) -> str:
        """The deployment's name in headers, the admin view, metrics and shared state."""
        return f"{self.provider}/{self.provider_model}"


@dataclass(frozen=True, slots=True)
class DeploymentLoad:
    """What the balancer knows of a deployment when it decides."""

    in_flight: int = 0  # fleet-wide when shared state is configured, else this worker's
    cooldown_until: float = 0.0  # time.time() until which a 429's Retry-After keeps it out
    latency_ms: float | None = None  # moving average of recent response times; None before the first answer


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    """A deployment's numbers for the admin view and /metrics (fleet-wide when shared)."""

    in_flight: int
    latency_ms: float | None
    error_rate: float
    requests: int
    errors: int
    cooldown_until: float


class BalancingState(Protocol):
    """The shared numbers behind balancing (infra implements it in memory or on Redis)."""

    def loads(self, keys: Sequence[str], *, fresh: bool) -> dict[str, DeploymentLoad]:
        """Current loads; `fresh` asks for fleet-wide in-flight counts read now (one round trip at most)."""
        ...

    def begin(self, key: str) -> None:
        """A request to the deployment started."""
        ...

    def end(self, key: str, *, seconds: float | None, failed: bool, first_byte: bool = False) -> None:
        """It ended; `seconds` is its response time (time to first byte when `first_byte`), None if unknown."""
        ...

    def cool_down(self, key: str, seconds: float) -> None:
        """Keep the deployment out of rotation for `seconds` (a 429 with Retry-After), fleet-wide if shared."""
        ...


class Balancer:
    """Orders a model's deployments for one request by its strategy, healthy ones only."""

    def __init__(
        self,
        state: BalancingState,
        breaker_open: Callable[[Deployment], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self._breaker_open = breaker_open or (lambda _deployment: False)
        self._clock = clock
        self._current: dict[str, dict[str, float]] = {}  # smooth weighted round robin, per model
        self._decisions: dict[str, int] = {}
        self._lock = threading.Lock()

    def plan(self, model_id: str, deployments: Sequence[Deployment], strategy: str) -> list[Deployment]:
        """The deployments to try, best first. Raises RateLimitExceeded when every one is cooling down."""
        if len(deployments) == 1:
            return list(deployments)
        loads = self.state.loads([d.key for d in deployments], fresh=strategy == "least_busy")
        now = self._clock()
        warm = [d for d in deployments if loads[d.key].cooldown_until <= now]
        if not warm:
            soonest = min(loads[d.key].cooldown_until for d in deployments)
            raise RateLimitExceeded(
                f"Every deployment of '{model_id}' is rate limited upstream.", retry_after=max(1.0, soonest - now)
            )
        healthy = [d for d in warm if not self._breaker_open(d)] or warm  # all open: their breakers answer 503
        if len(healthy) == 1:
            return healthy
        return self._order(model_id, healthy, strategy, loads)

    def _order(
        self, model_id: str, healthy: list[Deployment], strategy: str, loads: dict[str, DeploymentLoad]
    ) -> list[Deployment]:
        position = {d.key: index for index, d in enumerate(healthy)}
        if strategy == "ordered":
            return healthy
        if strategy == "latency":
            ranked = sorted(healthy, key=lambda d: (loads[d.key].latency_ms or 0.0, position[d.key]))
            if self._count(model_id) % EXPLORE_EVERY == 0:
                ranked[0], ranked[1] = ranked[1], ranked[0]
            return ranked
        first = self._round_robin(model_id, healthy)
        if strategy == "least_busy":
            return sorted(
                healthy,
                key=lambda d: (loads[d.key].in_flight / d.weight, d.key != first.key, position[d.key]),
            )
        rest = sorted((d for d in healthy if d.key != first.key), key=lambda d: (-d.weight, position[d.key]))
        return [first, *rest]

    def _round_robin(self, model_id: str, healthy: list[Deployment]) -> Deployment:
        """nginx's smooth weighted round robin: each weight's exact share, interleaved, without randomness."""
        with self._lock:
            current = self._current.setdefault(model_id, {})
            total = 0.0
            best: Deployment | None = None
            for deployment in healthy:
                value = current.get(deployment.key, 0.0) + deployment.weight
                current[deployment.key] = value
                total += deployment.weight
                if best is None or value > current[best.key]:
                    best = deployment
            assert best is not None
            current[best.key] -= total
            return best

    def _count(self, model_id: str) -> int:
        with self._lock:
            count = self._decisions.get(model_id, 0) + 1
            self._decisions[model_id] = count
            return count
