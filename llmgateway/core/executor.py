"""How a routed call is attempted: the seam where fallbacks, circuit breakers and retries live."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from llmgateway.core.routing import Route
from llmgateway.core.usage import UsageCall
from llmgateway.errors import GatewayError, ServiceUnavailable
from llmgateway.providers.base import Provider

T = TypeVar("T")
Operation = Callable[[Route, Provider], T]


class ProviderPool(Protocol):
    def get(self, name: str) -> Provider | None: ...


class Executor:
    """One attempt on the requested route (fallbacks, breakers and retries extend this class)."""

    def __init__(self, providers: ProviderPool) -> None:
        self.providers = providers

    def provider_for(self, route: Route) -> Provider:
        provider = self.providers.get(route.provider)
        if provider is None:
            raise ServiceUnavailable(f"The provider '{route.provider}' is not configured.")
        return provider

    def run(self, call: UsageCall, routes: list[Route], operation: Operation[T]) -> tuple[T, Route]:
        """Run `operation` on the first route; record the attempt on the call."""
        route = routes[0]
        return self.attempt(call, route, operation), route

    def attempt(self, call: UsageCall, route: Route, operation: Operation[T]) -> T:
        provider = self.provider_for(route)
        started = time.perf_counter()
        try:
            result = operation(route, provider)
        except GatewayError as exc:
            call.attempts.append({"model": route.model_id, "provider": route.provider, "error": exc.code})
            raise
        finally:
            call.upstream_ms += (time.perf_counter() - started) * 1000.0
        return result
