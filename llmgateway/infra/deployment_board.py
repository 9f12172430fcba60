"""Wiring and reporting of deployments: the balancing state to use, which deployments are out, and the admin view."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from llmgateway.config import Settings
from llmgateway.core.balancing import Deployment
from llmgateway.core.routing import Route
from llmgateway.infra.balancing_state import MemoryBalancingState, RedisBalancingState
from llmgateway.infra.breakers import BreakerBoard
from llmgateway.infra.redis_client import RedisConnector
from llmgateway.providers.base import Provider


def build_balancing_state(settings: Settings, redis: RedisConnector | None) -> MemoryBalancingState:
    """Fleet-wide on Redis when it is configured, else per worker."""
    if redis is None:
        return MemoryBalancingState()
    cfg = settings.balancing
    return RedisBalancingState(redis, entry_ttl=cfg.entry_ttl, sync_interval=cfg.sync_interval)


def deployment_breaker_check(
    providers: Mapping[str, Provider], breakers: BreakerBoard | None
) -> Callable[[Deployment], bool]:
    """For the balancer: whether a deployment is known to be out (its breaker open, or its provider disabled),
    from what this worker already knows (no Redis read)."""

    def known_out(deployment: Deployment) -> bool:
        provider = providers.get(deployment.provider)
        if provider is None:
            return True
        if breakers is None:
            return False
        return breakers.breaker(deployment.provider, provider.base_url, deployment.provider_model).known_open()

    return known_out


class DeploymentPools(dict[str, Provider]):
    """One provider instance per deployment of a mapped model, so each has its own connection pool."""

    def close(self) -> None:
        for provider in self.values():
            provider.close()


def deployment_pools(routes: Sequence[Route], providers: Mapping[str, Provider]) -> DeploymentPools:
    """A fresh instance of the deployment's provider (same settings) for every deployment of every mapping."""
    pools = DeploymentPools()
    for route in routes:
        for deployment in route.deployments:
            shared = providers.get(deployment.provider)
            if shared is not None and deployment.key not in pools:
                pools[deployment.key] = type(shared)(shared.settings)
    return pools


class DeploymentBoard:
    """Every mapped model's deployments with their state, for GET /api/v1/admin/deployments and /metrics."""

    def __init__(
        self,
        routes: Sequence[Route],
        state: MemoryBalancingState,
        providers: Mapping[str, Provider],
        breakers: BreakerBoard | None,
    ) -> None:
        self._routes = [route for route in routes if route.deployments]
        self._state = state
        self._providers = providers
        self._breakers = breakers

    def snapshot(self) -> list[dict[str, Any]]:
        keys = {d.key for route in self._routes for d in route.deployments}
        stats = self._state.stats(sorted(keys))
        now = time.time()
        rows = []
        for route in self._routes:
            for deployment in route.deployments:
                numbers = stats[deployment.key]
                cooling = numbers.cooldown_until > now
                rows.append(
                    {
                        "model": route.model_id,
                        "name": deployment.key,
                        "provider": deployment.provider,
                        "provider_model": deployment.provider_model,
                        "strategy": route.strategy,
                        "weight": deployment.weight,
                        "state": self._state_of(deployment, cooling),
                        "in_flight": numbers.in_flight,
                        "latency_ms": None if numbers.latency_ms is None else round(numbers.latency_ms, 2),
                        "error_rate": round(numbers.error_rate, 4),
                        "requests": numbers.requests,
                        "errors": numbers.errors,
                        "cooldown_until": (
                            datetime.fromtimestamp(numbers.cooldown_until, UTC).isoformat() if cooling else None
                        ),
                    }
                )
        return rows

    def _state_of(self, deployment: Deployment, cooling: bool) -> str:
        """disabled (provider not configured), open / half_open (breaker), cooling (429), else healthy."""
        provider = self._providers.get(deployment.provider)
        if provider is None:
            return "disabled"
        if self._breakers is not None:
            breaker = self._breakers.breaker(deployment.provider, provider.base_url, deployment.provider_model)
            state = breaker.snapshot()["state"]
            if state != "closed":
                return state
        return "cooling" if cooling else "healthy"
