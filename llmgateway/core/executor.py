"""How a routed call is attempted: fallbacks, circuit breakers and budgeted retries under one request deadline.

`Executor.run(call, route, operation)` is the one protocol. For each route of the fallback plan (the requested
model first), attempts go through the deployment's breaker, retry transient failures with jittered backoff
while the retry budget and the deadline allow, and move to the next route only on the plan's error codes.
All of it happens before a stream's first byte. Every collaborator has a null default (no fallbacks, no
breakers, one attempt), and an injected observer sees each attempt (tracing) without core knowing about it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol, TypeVar

import gevent
from gevent import monkey

from llmgateway.core.deployments import DeploymentRouter
from llmgateway.core.fallbacks import FallbackPlan
from llmgateway.core.retries import MIN_ATTEMPT_SECONDS, Deadline, Failure, RetryBudget, RetryPolicy
from llmgateway.core.routing import Route
from llmgateway.core.usage import UsageCall
from llmgateway.errors import GatewayError, GatewayTimeout, ServiceUnavailable
from llmgateway.providers.attempt import attempt_scope
from llmgateway.providers.base import Provider
from llmgateway.providers.types import ChatDelta, ChatStream, RelayedStream

T = TypeVar("T")
Operation = Callable[[Route, Provider], T]


class ProviderPool(Protocol):
    def get(self, name: str) -> Provider | None: ...


class Breaker(Protocol):
    def admit(self) -> Any: ...
    def record_success(self, ticket: Any) -> None: ...
    def record_failure(self, ticket: Any, exc: BaseException | None = None) -> None: ...
    def record_neutral(self, ticket: Any) -> None: ...


class Breakers(Protocol):
    def breaker(self, provider: str, base_url: str, model: str) -> Breaker: ...


class Fallbacks(Protocol):
    def plan(self, route: Route) -> FallbackPlan: ...


class AttemptNote(Protocol):
    def returned(self, result: Any) -> None: ...


#: Sees each upstream attempt (tracing): `observer(call, provider, provider_model)` opens a context.
AttemptObserver = Callable[[UsageCall, str, str], AbstractContextManager[AttemptNote]]


class NoFallbacks:
    """Only the requested route."""

    def plan(self, route: Route) -> FallbackPlan:
        return FallbackPlan((route,), frozenset())


class _NullNote:
    def __enter__(self) -> _NullNote:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def returned(self, result: Any) -> None:
        """Nothing observes the attempt."""


_NULL_NOTE = _NullNote()


def unobserved(call: UsageCall, provider: str, provider_model: str) -> _NullNote:
    """The default observer: sees nothing."""
    return _NULL_NOTE


class Executor:
    """Runs an operation on a route, with fallbacks, breakers and retries where configured."""

    def __init__(
        self,
        providers: ProviderPool,
        *,
        request_deadline: float = 300.0,
        retries: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        fallbacks: Fallbacks | None = None,
        breakers: Breakers | None = None,
        deployments: DeploymentRouter | None = None,
        observer: AttemptObserver = unobserved,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.providers = providers
        self.deployments = deployments
        self.request_deadline = request_deadline
        self.retries = retries
        self.budget = budget
        self.fallbacks: Fallbacks = fallbacks or NoFallbacks()
        self.breakers = breakers
        self.observer = observer
        self._sleep = sleep

    def run(
        self, call: UsageCall, route: Route, operation: Operation[T], eligible: Callable[[Route], bool] | None = None
    ) -> tuple[T, Route]:
        """The operation's result and the route that gave it (the requested one, or a fallback).

        `eligible` drops fallback routes that cannot serve the request (e.g. a model without vision)."""
        deadline = Deadline(self.request_deadline)
        if self.budget is not None:
            self.budget.deposit()
        plan = self.fallbacks.plan(route)
        routes = [r for i, r in enumerate(plan.routes) if i == 0 or eligible is None or eligible(r)]
        last = len(routes) - 1
        for index, candidate in enumerate(routes):
            try:
                return self._on_route(call, candidate, operation, deadline)
            except GatewayError as exc:
                if index == last or not plan.falls_back_on(exc) or deadline.remaining() < MIN_ATTEMPT_SECONDS:
                    raise
        raise AssertionError("unreachable: the last route either answers or raises")

    def provider_for(self, route: Route) -> Provider:
        provider = self.providers.get(route.provider)
        if provider is None:
            raise ServiceUnavailable(f"The provider '{route.provider}' is not configured.")
        return provider

    def _on_route(self, call: UsageCall, route: Route, operation: Operation[T], deadline: Deadline) -> tuple[T, Route]:
        """Attempts on one route: on each of its deployments in the balancer's order, or on the route itself.
        Returns the result and the route (deployment) that gave it."""
        if self.deployments is not None and route.deployments:
            return self.deployments.run(
                route, operation, lambda target, tracked, last: self._on_target(call, target, tracked, deadline, last)
            )
        return self._on_target(call, route, operation, deadline, True), route

    def _on_target(self, call: UsageCall, route: Route, operation: Operation[T], deadline: Deadline, retry: bool) -> T:
        """Attempts on one deployment, retrying transient failures within the budget and the deadline (only
        when no other deployment of the model is left to move on to)."""
        provider = self.provider_for(route)
        attempt = 0
        while True:
            attempt += 1
            result, failure = self._attempt(call, route, provider, operation, deadline, attempt)
            if failure is None:
                return result  # type: ignore[return-value]
            delay = self.retries.delay(failure, attempt) if self.retries is not None and retry else None
            if (
                delay is None
                or deadline.remaining() < delay + MIN_ATTEMPT_SECONDS
                or self.budget is None
                or not self.budget.try_withdraw()
            ):
                raise failure.error
            self._sleep(delay)

    def _attempt(
        self,
        call: UsageCall,
        route: Route,
        provider: Provider,
        operation: Operation[T],
        deadline: Deadline,
        attempt: int,
    ) -> tuple[T | None, Failure | None]:
        breaker = (
            self.breakers.breaker(route.provider, provider.base_url, route.provider_model) if self.breakers else None
        )
        started = time.perf_counter()
        try:
            ticket = breaker.admit() if breaker else None
        except GatewayError as exc:  # open breaker: fail fast, no upstream call
            self._note(call, route, attempt, Failure(exc, None))
            return None, Failure(exc, None)
        try:
            with (
                attempt_scope(deadline.at) as scope,
                self._time_limit(provider, deadline),
                self.observer(call, route.provider, route.provider_model) as note,
            ):
                result = operation(route, provider)
                note.returned(result)
        except GatewayError as exc:
            failure = Failure(exc, scope.status)
            if breaker:
                (breaker.record_failure(ticket, exc) if failure.upstream_fault else breaker.record_neutral(ticket))
            self._note(call, route, attempt, failure)
            return None, failure
        except BaseException:  # client gone, outer timeout or a bug: says nothing about the upstream
            if breaker:
                breaker.record_neutral(ticket)
            raise
        finally:
            call.upstream_ms += (time.perf_counter() - started) * 1000.0
        if breaker:
            breaker.record_success(ticket)
            if isinstance(result, ChatStream):
                result = WatchedStream(result, lambda exc: breaker.record_failure(None, exc))  # type: ignore[assignment]
        return result, None

    @staticmethod
    def _note(call: UsageCall, route: Route, attempt: int, failure: Failure) -> None:
        call.attempts.append(
            {
                "model": route.model_id,
                "provider": route.provider,
                "provider_model": route.provider_model,
                "attempt": attempt,
                "error": failure.error.code,
                "upstream_status": failure.status,
            }
        )

    @staticmethod
    def _time_limit(provider: Provider, deadline: Deadline) -> AbstractContextManager[Any]:
        """Under gevent, a hard cap on the attempt: socket timeouts bound each silence, this the whole call."""
        if not monkey.is_module_patched("socket"):
            return nullcontext()
        seconds = max(0.0, min(provider.settings.timeout, deadline.remaining()))
        limit: AbstractContextManager[Any] = gevent.Timeout(
            seconds, GatewayTimeout("The upstream provider did not answer in time.")
        )
        return limit


class WatchedStream(RelayedStream):
    """Relays an opened upstream stream and reports an upstream fault after it began (for the breaker)."""

    def __init__(self, inner: ChatStream, on_fault: Callable[[GatewayError], None]) -> None:
        self._on_fault = on_fault
        super().__init__(inner, self._watch())

    def _watch(self) -> Iterator[ChatDelta]:
        try:
            yield from self._inner
        except GatewayError as exc:
            if Failure(exc, None).upstream_fault:
                self._on_fault(exc)
            raise
