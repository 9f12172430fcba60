"""A model served by several deployments: try them in the balancer's order, and account for every attempt.

A failed attempt that another deployment could answer (5xx, timeout, 429, open breaker, refused credentials)
moves on to the next deployment of the same model before any fallback rule is consulted. Each attempt counts as
in flight from its start until its answer (a stream: until it closes); its response time (a stream's time to
first byte) feeds the `latency` strategy, and a 429 with Retry-After cools the deployment down for that long.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from llmgateway.core.balancing import Balancer, BalancingState, Deployment
from llmgateway.core.routing import Route
from llmgateway.errors import GatewayError, RateLimitExceeded
from llmgateway.providers.base import Provider
from llmgateway.providers.types import ChatDelta, ChatStream, RelayedStream

T = TypeVar("T")
Operation = Callable[[Route, Provider], T]

#: Errors another deployment of the same model may not have: move on to it.
MOVE_ON_CODES = frozenset({"server_error", "timeout", "rate_limit_exceeded", "service_unavailable"})


class DeploymentRouter:
    """Runs attempts over a route's deployments; `attempt_on(route, operation, last)` makes one deployment's
    attempts (breaker and retries included) and raises its error."""

    def __init__(self, balancer: Balancer, pools: Mapping[str, Provider] | None = None) -> None:
        self.balancer = balancer
        self.state: BalancingState = balancer.state
        #: Each deployment's own provider instance (own connection pool), by deployment key.
        self.pools: Mapping[str, Provider] = pools or {}

    def run(
        self, route: Route, operation: Operation[T], attempt_on: Callable[[Route, Operation[T], bool], T]
    ) -> tuple[T, Route]:
        """The result and the deployment route that gave it."""
        plan = self.balancer.plan(route.model_id, route.deployments, route.strategy)
        last = len(plan) - 1
        for index, deployment in enumerate(plan):
            target = route.for_deployment(deployment)
            try:
                return attempt_on(target, self.tracked(operation, deployment), index == last), target
            except GatewayError as exc:
                if index == last or exc.code not in MOVE_ON_CODES:
                    raise
        raise AssertionError("unreachable: the last deployment either answers or raises")

    def tracked(self, operation: Operation[T], deployment: Deployment) -> Operation[T]:
        """`operation` counted in flight while it runs, its response time and failures observed."""
        key, state = deployment.key, self.state
        own = self.pools.get(key)

        def run(route: Route, provider: Provider) -> T:
            provider = own or provider  # same settings, the deployment's own connection pool
            state.begin(key)
            started = time.perf_counter()
            try:
                result = operation(route, provider)
            except GatewayError as exc:
                state.end(key, seconds=None, failed=exc.code in MOVE_ON_CODES)
                if isinstance(exc, RateLimitExceeded) and exc.retry_after:
                    state.cool_down(key, exc.retry_after)
                raise
            except BaseException:  # the client went away: says nothing about the deployment
                state.end(key, seconds=None, failed=False)
                raise
            elapsed = time.perf_counter() - started
            if isinstance(result, ChatStream):
                return InFlightStream(
                    result, lambda failed: state.end(key, seconds=elapsed, failed=failed, first_byte=True)
                )  # type: ignore[return-value]
            state.end(key, seconds=elapsed, failed=False)
            return result

        return run


class InFlightStream(RelayedStream):
    """An open stream that stays counted in flight until it ends or is closed, exactly once."""

    def __init__(self, inner: ChatStream, on_end: Callable[[bool], None]) -> None:
        self._on_end = on_end
        self._ended = False
        super().__init__(inner, self._relay())

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end(False)

    def _relay(self) -> Iterator[ChatDelta]:
        failed = False
        try:
            yield from self._inner
        except GatewayError as exc:
            failed = exc.code in MOVE_ON_CODES
            raise
        finally:
            self._end(failed)

    def _end(self, failed: bool) -> None:
        if not self._ended:
            self._ended = True
            self._on_end(failed)
