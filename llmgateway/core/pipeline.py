"""The request pipeline shared by every surface: route → admit → cache → execute → price → record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from llmgateway.core.admission import NO_RESERVATION, Admission, OpenAdmission, Reservation, released_on_failure
from llmgateway.core.executor import Executor
from llmgateway.core.open_streams import OpenStreams
from llmgateway.core.passthrough import check_passthrough
from llmgateway.core.pricing import PriceList
from llmgateway.core.response_cache import (
    BYPASS_PLAN,
    CacheDirectives,
    CachePlan,
    CachePolicy,
    ResponseCache,
    completion_entry,
    embedding_entry,
    replay_stream,
    usage_from_entry,
)
from llmgateway.core.routing import ModelCatalogue, Route
from llmgateway.core.tokens import estimate_messages, estimate_text
from llmgateway.core.usage import UsageCall, UsageSink
from llmgateway.errors import GatewayError, UnsupportedOperation
from llmgateway.providers.base import Provider
from llmgateway.providers.types import (
    ChatDelta,
    ChatRequest,
    ChatResponse,
    ChatStream,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Usage,
)


@dataclass(frozen=True, slots=True)
class CompletionInput:
    """A validated completion request from either surface."""

    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    user: str | None = None
    cache: bool | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cache_control: CacheDirectives = field(default_factory=CacheDirectives)  # from the HTTP Cache-Control header


@dataclass(frozen=True, slots=True)
class EmbeddingInput:
    """A validated embedding request from either surface."""

    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None
    input_type: str | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    cache_control: CacheDirectives = field(default_factory=CacheDirectives)  # from the HTTP Cache-Control header


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """A finished completion, as the surfaces render it."""

    id: str
    created: int
    model: str
    provider: str
    provider_model: str
    content: str | None
    finish_reason: str | None
    usage: Usage
    cached: bool = False
    fallback_from: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    model: str
    provider: str
    provider_model: str
    vectors: Any
    usage: Usage
    cached: bool = False


@dataclass(slots=True)
class StreamStart:
    """What is known when a stream opened: ids and the route that answered."""

    id: str
    created: int
    model: str
    provider: str
    provider_model: str
    fallback_from: str | None


class CompletionStream:
    """An open completion stream: iterate for deltas; `usage` is final once iteration ended.

    Ending the iteration (normally, by error, or by the client going away through `close()`) releases
    the upstream connection and records the call exactly once.
    """

    def __init__(self, gateway: Gateway, call: UsageCall, start: StreamStart, upstream: ChatStream,
                 request: CompletionInput, route: Route, reservation: Reservation,
                 cache_plan: CachePlan = BYPASS_PLAN) -> None:
        self.start = start
        self.usage: Usage | None = None
        self._gateway = gateway
        self._call = call
        self._upstream = upstream
        self._request = request
        self._route = route
        self._reservation = reservation
        self._cache_plan = cache_plan
        self._finish_reason: str | None = None
        self._text: list[str] = []
        self._finished = False
        self._iterator = self._relay()

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._iterator

    def close(self) -> None:
        """Stop now (client gone): closes the upstream and records the partial call."""
        self._iterator.close()
        self._finish(499, "client_closed_request")  # no-op when the relay already finished

    def _relay(self) -> Iterator[ChatDelta]:
        status, code = 499, "client_closed_request"
        try:
            for delta in self._upstream:
                if delta.content:
                    self._call.mark_first_token()
                    self._text.append(delta.content)
                self._finish_reason = delta.finish_reason or self._finish_reason
                yield delta
            status, code = 200, None
        except GatewayError as exc:
            status, code = exc.status, exc.code
            raise
        finally:
            self._finish(status, code)

    def _finish(self, status: int, code: str | None) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            self._upstream.close()
            self.usage = self._gateway.settle(self._call, self._route, self._final_usage(), self._reservation)
            if status == 200:  # only a complete answer fills the cache
                entry = completion_entry("".join(self._text), self._finish_reason, self.usage)
                self._gateway.caching.save(self._call, self._cache_plan, entry)
        finally:
            self._gateway.sink_finish(self._call, status, code)  # whatever failed above, the call is recorded

    def _final_usage(self) -> Usage:
        reported = self._upstream.usage
        if reported is not None:
            return reported
        return Usage(
            estimate_messages(self._request.messages), estimate_text("".join(self._text)), estimated=True
        )


def completion_id(call: UsageCall) -> str:
    """The OpenAI-style id of a completion, derived from the gateway's request id (plain, streamed or cached)."""
    return f"chatcmpl-{call.request_id.replace('-', '')}"


class Gateway:
    """Everything a completion or embedding goes through, independent of HTTP surface."""

    def __init__(
        self,
        catalogue: ModelCatalogue,
        executor: Executor,
        ledger: UsageSink,
        prices: PriceList,
        *,
        admission: Admission | None = None,
        cache: ResponseCache | None = None,
        cache_scope: str = "owner",
    ) -> None:
        self.catalogue = catalogue
        self.executor = executor
        self.ledger = ledger
        self.prices = prices
        self.admission = admission or OpenAdmission()
        self.caching = CachePolicy(cache, cache_scope)
        self.open_streams = OpenStreams()  # ended with an error event when a worker shuts down

    # -- completions ---------------------------------------------------------------------------
    def complete(self, call: UsageCall, request: CompletionInput) -> CompletionResult:
        route = self._start(call, request.model, request.user, request.metadata)
        plan = self.caching.plan_completion(call, route, request)
        entry = self.caching.lookup(call, plan)
        if entry is not None:
            return self._cached_completion(call, route, entry)
        reservation = self.admission.admit(call, self._reserve_estimate(request))
        with released_on_failure(reservation):
            response, answered = self.executor.run(
                call, self._routes(route), lambda r, p: p.chat(self._chat_request(call, request, r, p))
            )
        self._answered_by(call, route, answered)
        usage = self.settle(call, answered, self._usage_of(response, request), reservation)
        self.caching.save(call, plan, completion_entry(response.content, response.finish_reason, usage))
        return CompletionResult(
            id=completion_id(call),
            created=int(time.time()),
            model=answered.model_id,
            provider=answered.provider,
            provider_model=answered.provider_model,
            content=response.content,
            finish_reason=response.finish_reason,
            usage=usage,
            fallback_from=call.fallback_from,
        )

    def stream(self, call: UsageCall, request: CompletionInput) -> CompletionStream:
        """Open the stream (fallbacks and retries happen only here, before the first byte)."""
        call.streamed = True
        route = self._start(call, request.model, request.user, request.metadata)
        plan = self.caching.plan_completion(call, route, request)
        entry = self.caching.lookup(call, plan)
        if entry is not None:
            upstream, answered, reservation = replay_stream(entry), route, NO_RESERVATION
        else:
            reservation = self.admission.admit(call, self._reserve_estimate(request))
            with released_on_failure(reservation):
                upstream, answered = self.executor.run(
                    call, self._routes(route), lambda r, p: p.stream_chat(self._chat_request(call, request, r, p))
                )
        self._answered_by(call, route, answered)
        upstream = self.open_streams.track(upstream)
        start = StreamStart(
            id=completion_id(call),
            created=int(time.time()),
            model=answered.model_id,
            provider=answered.provider,
            provider_model=answered.provider_model,
            fallback_from=call.fallback_from,
        )
        return CompletionStream(self, call, start, upstream, request, answered, reservation, plan)

    # -- embeddings ---------------------------------------------------------------------------
    def embed(self, call: UsageCall, request: EmbeddingInput) -> EmbeddingResult:
        route = self._start(call, request.model, request.user, request.metadata)
        if route.capabilities is not None and "embedding" not in route.capabilities:
            raise UnsupportedOperation(f"The model '{route.model_id}' does not produce embeddings.", param="model")
        plan = self.caching.plan_embedding(call, route, request)
        entry = self.caching.lookup(call, plan)
        if entry is not None:
            usage = self.settle(call, route, usage_from_entry(entry), NO_RESERVATION)
            return EmbeddingResult(route.model_id, route.provider, route.provider_model, entry["vectors"], usage,
                                   cached=True)
        estimate = sum(estimate_text(text) for text in request.inputs)
        reservation = self.admission.admit(call, estimate)

        def operation(r: Route, provider: Provider) -> EmbeddingResponse:
            return provider.embed(
                EmbeddingRequest(
                    model=r.provider_model,
                    inputs=request.inputs,
                    dimensions=request.dimensions,
                    input_type=request.input_type,
                    user=request.user,
                    request_id=call.request_id,
                )
            )

        with released_on_failure(reservation):
            response, answered = self.executor.run(call, self._routes(route), operation)
        self._answered_by(call, route, answered)
        usage = self.settle(call, answered, response.usage or Usage(estimate, 0, estimated=True), reservation)
        self.caching.save(call, plan, embedding_entry(response.vectors, usage))
        return EmbeddingResult(answered.model_id, answered.provider, answered.provider_model, response.vectors, usage)

    # -- shared steps -------------------------------------------------------------------------
    def settle(self, call: UsageCall, route: Route, usage: Usage, reservation: Reservation) -> Usage:
        """Price the call, put its usage on the record and settle its reservation; returns the priced usage."""
        requested = call.model or route.model_id
        pricing = self.prices.price_for(requested, route.provider, route.provider_model, route.pricing)
        cost = PriceList.cost(pricing, usage)
        if call.cached:  # a hit costs nothing and records what it saved
            call.cost_usd, call.saved_cost_usd = 0.0, cost
            call.usage = usage.priced(0.0)
            reservation.settle(0, 0.0)
            return call.usage
        call.cost_usd = cost
        call.usage = usage.priced(cost)
        reservation.settle(usage.total_tokens, cost)
        return call.usage

    def _cached_completion(self, call: UsageCall, route: Route, entry: dict[str, Any]) -> CompletionResult:
        usage = self.settle(call, route, usage_from_entry(entry), NO_RESERVATION)
        return CompletionResult(
            id=completion_id(call),
            created=int(time.time()),
            model=route.model_id,
            provider=route.provider,
            provider_model=route.provider_model,
            content=entry.get("content"),
            finish_reason=entry.get("finish_reason"),
            usage=usage,
            cached=True,
        )

    def sink_finish(self, call: UsageCall, status: int, code: str | None) -> None:
        call.finish(self.ledger, status, code)

    def _start(self, call: UsageCall, model: str, user: str | None, metadata: dict[str, Any] | None) -> Route:
        call.model = model
        call.user = user
        call.metadata = metadata
        route = self.catalogue.resolve(model)
        call.provider, call.provider_model = route.provider, route.provider_model
        return route

    def _routes(self, route: Route) -> list[Route]:
        return self.executor.routes_for(route)

    @staticmethod
    def _answered_by(call: UsageCall, requested: Route, answered: Route) -> None:
        call.provider, call.provider_model = answered.provider, answered.provider_model
        if answered.model_id != requested.model_id:
            call.fallback_from = requested.model_id

    def _chat_request(self, call: UsageCall, request: CompletionInput, route: Route, provider: Provider) -> ChatRequest:
        check_passthrough(request.extra, provider, route)  # every attempted route, fallbacks included
        return ChatRequest(
            model=route.provider_model,
            messages=request.messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            top_p=request.top_p,
            stop=request.stop,
            user=request.user,
            request_id=call.request_id,
            extra=request.extra,
        )

    def _reserve_estimate(self, request: CompletionInput) -> int:
        return estimate_messages(request.messages) + (request.max_tokens or 0)

    @staticmethod
    def _usage_of(response: ChatResponse, request: CompletionInput) -> Usage:
        if response.usage is not None:
            return response.usage
        return Usage(estimate_messages(request.messages), estimate_text(response.content), estimated=True)

