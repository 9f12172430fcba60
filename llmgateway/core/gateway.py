"""The gateway: what every completion and embedding goes through, whatever the HTTP surface.

route → cache → admit → execute (fallbacks, breakers, retries) → price and settle. The request's lifecycle
(api/lifecycle.py) opens the usage call before and records it after; this module only fills it in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmgateway.core.admission import NO_RESERVATION, Admission, OpenAdmission, Reservation, released_on_failure
from llmgateway.core.capabilities import missing_capability, needed_capabilities, require_capabilities
from llmgateway.core.completion_stream import CompletionStream
from llmgateway.core.executor import Executor
from llmgateway.core.open_streams import OpenStreams
from llmgateway.core.options import CallOptions
from llmgateway.core.passthrough import check_passthrough
from llmgateway.core.pricing import PriceList
from llmgateway.core.response_cache import (
    CacheStore,
    ResponseCache,
    completion_entry,
    embedding_entry,
    replay_stream,
    tool_calls_from_entry,
    usage_from_entry,
)
from llmgateway.core.results import CompletionResult, EmbeddingResult, StreamStart, completion_id
from llmgateway.core.routing import ModelCatalogue, Route
from llmgateway.core.tokens import estimate_answer, estimate_prompt, estimate_text
from llmgateway.core.usage import UsageCall
from llmgateway.errors import UnsupportedOperation
from llmgateway.providers.base import Provider
from llmgateway.providers.chat_types import ToolCall
from llmgateway.providers.types import ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Usage

NO_OPTIONS = CallOptions()


class Gateway:
    """Completions (plain and streamed) and embeddings over the catalogue, the cache, admission and the executor."""

    def __init__(
        self,
        catalogue: ModelCatalogue,
        executor: Executor,
        prices: PriceList,
        *,
        admission: Admission | None = None,
        cache: CacheStore | None = None,
        cache_scope: str = "owner",
    ) -> None:
        self.catalogue = catalogue
        self.executor = executor
        self.prices = prices
        self.admission = admission or OpenAdmission()
        self.cache = ResponseCache(cache, cache_scope)
        self.open_streams = OpenStreams()  # ended with an error event when a worker shuts down

    # -- completions ---------------------------------------------------------------------------
    def complete(self, call: UsageCall, request: ChatRequest, options: CallOptions = NO_OPTIONS) -> CompletionResult:
        route = self._start(call, request.model, request.user, options)
        capable = self._capable(route, request)
        plan = self.cache.plan_completion(call, route, request, options)
        entry = self.cache.lookup(call, plan)
        if entry is not None:
            return self._cached_completion(call, route, entry)
        prompt_estimate = estimate_prompt(request)
        reservation = self.admission.admit(call, prompt_estimate + (request.max_tokens or 0))
        with released_on_failure(reservation):
            response, answered = self.executor.run(
                call, route, lambda r, p: p.chat(self._routed(call, request, r, p)), capable
            )
        self._answered_by(call, route, answered)
        reported = response.usage or Usage(
            prompt_estimate, estimate_answer(response.content, response.tool_calls), estimated=True
        )
        usage = self.settle(call, answered, reported, reservation)
        entry = completion_entry(response.content, response.finish_reason, usage, response.tool_calls)
        self.cache.save(call, plan, entry)
        return self._result(call, answered, response, usage)

    def stream(self, call: UsageCall, request: ChatRequest, options: CallOptions = NO_OPTIONS) -> CompletionStream:
        """Open the stream (fallbacks and retries happen only here, before the first byte)."""
        call.streamed = True
        route = self._start(call, request.model, request.user, options)
        capable = self._capable(route, request)
        plan = self.cache.plan_completion(call, route, request, options)
        entry = self.cache.lookup(call, plan)
        prompt_estimate = estimate_prompt(request)
        reservation: Reservation
        if entry is not None:
            upstream, answered, reservation = replay_stream(entry), route, NO_RESERVATION
        else:
            reservation = self.admission.admit(call, prompt_estimate + (request.max_tokens or 0))
            with released_on_failure(reservation):
                upstream, answered = self.executor.run(
                    call, route, lambda r, p: p.stream_chat(self._routed(call, request, r, p)), capable
                )
        self._answered_by(call, route, answered)
        start = StreamStart(
            id=completion_id(call),
            created=int(time.time()),
            model=answered.model_id,
            provider=answered.provider,
            provider_model=answered.provider_model,
            fallback_from=call.fallback_from,
        )

        def settle(
            reported: Usage, text: str, tool_calls: tuple[ToolCall, ...], finish_reason: str | None, complete: bool
        ) -> Usage:
            usage = self.settle(call, answered, reported, reservation)
            if complete:  # only a complete answer fills the cache
                self.cache.save(call, plan, completion_entry(text, finish_reason, usage, tool_calls))
            return usage

        return CompletionStream(call, start, self.open_streams.track(upstream), prompt_estimate, settle)

    # -- embeddings ---------------------------------------------------------------------------
    def embed(self, call: UsageCall, request: EmbeddingRequest, options: CallOptions = NO_OPTIONS) -> EmbeddingResult:
        route = self._start(call, request.model, request.user, options)
        if route.capabilities is not None and "embedding" not in route.capabilities:
            raise UnsupportedOperation(f"The model '{route.model_id}' does not produce embeddings.", param="model")
        plan = self.cache.plan_embedding(call, route, request, options)
        entry = self.cache.lookup(call, plan)
        if entry is not None:
            usage = self.settle(call, route, usage_from_entry(entry), NO_RESERVATION)
            return EmbeddingResult(
                route.model_id, route.provider, route.provider_model, entry["vectors"], usage, cached=True
            )
        estimate = sum(estimate_text(text) for text in request.inputs)
        reservation = self.admission.admit(call, estimate)

        def operation(r: Route, provider: Provider) -> EmbeddingResponse:
            return provider.embed(request.routed(r.provider_model, call.request_id))

        with released_on_failure(reservation):
            response, answered = self.executor.run(call, route, operation)
        self._answered_by(call, route, answered)
        usage = self.settle(call, answered, response.usage or Usage(estimate, 0, estimated=True), reservation)
        self.cache.save(call, plan, embedding_entry(response.vectors, usage))
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
        response = ChatResponse(
            entry.get("content"), entry.get("finish_reason"), usage, tool_calls=tool_calls_from_entry(entry)
        )
        return self._result(call, route, response, usage)

    @staticmethod
    def _result(call: UsageCall, route: Route, response: ChatResponse, usage: Usage) -> CompletionResult:
        return CompletionResult(
            id=completion_id(call),
            created=int(time.time()),
            model=route.model_id,
            provider=route.provider,
            provider_model=route.provider_model,
            content=response.content,
            finish_reason=response.finish_reason,
            usage=usage,
            cached=call.cached,
            fallback_from=call.fallback_from,
            tool_calls=response.tool_calls,
            logprobs=response.logprobs,
            more_choices=response.more_choices,
            native=response.native,
        )

    def _start(self, call: UsageCall, model: str, user: str | None, options: CallOptions) -> Route:
        call.model = model
        call.user = user
        call.metadata = options.metadata
        route = self.catalogue.resolve(model)
        call.provider, call.provider_model = route.provider, route.provider_model
        return route

    @staticmethod
    def _capable(route: Route, request: ChatRequest) -> Callable[[Route], bool]:
        """Refuse (400) what the requested model cannot serve; the predicate keeps only fallbacks that can."""
        needs = needed_capabilities(request)
        require_capabilities(route, needs)
        return lambda candidate: missing_capability(candidate, needs) is None

    @staticmethod
    def _answered_by(call: UsageCall, requested: Route, answered: Route) -> None:
        call.provider, call.provider_model = answered.provider, answered.provider_model
        if answered.model_id != requested.model_id:
            call.fallback_from = requested.model_id

    @staticmethod
    def _routed(call: UsageCall, request: ChatRequest, route: Route, provider: Provider) -> ChatRequest:
        check_passthrough(request.extra, provider, route)  # every attempted route, fallbacks included
        return request.routed(route.provider_model, call.request_id)
