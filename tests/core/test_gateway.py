"""The gateway core without HTTP: in-memory provider, cache store and breakers (warehouse-style unit tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from llmgateway.config import CircuitBreakerConfig, FallbackConfig, FallbackRule, RetryConfig
from llmgateway.core.executor import Executor
from llmgateway.core.fallbacks import FallbackPolicy
from llmgateway.core.gateway import Gateway
from llmgateway.core.keys import Principal
from llmgateway.core.options import CallOptions
from llmgateway.core.pricing import PriceList
from llmgateway.core.retries import RetryBudget, RetryPolicy
from llmgateway.core.routing import ModelCatalogue
from llmgateway.core.usage import UsageCall
from llmgateway.errors import GatewayError, ServerError
from llmgateway.infra.breakers import BreakerBoard
from llmgateway.providers.base import Provider, ProviderSettings
from llmgateway.providers.types import ChatDelta, ChatRequest, ChatResponse, ChatStream, Message, Usage

HELLO = (Message("user", "hello"),)


class MemoryProvider(Provider):
    """A provider answering from memory: `failing` model ids fail with a 5xx, `script` overrides an answer."""

    name = "memory"
    accepts_openai_extras = True
    default_base_url = "http://memory.invalid"

    def __init__(self) -> None:
        super().__init__(ProviderSettings(api_key="k", base_url=self.default_base_url))
        self.received: list[ChatRequest] = []
        self.failing: set[str] = set()
        self.interrupt: BaseException | None = None

    def chat(self, request: ChatRequest) -> ChatResponse:
        self.received.append(request)
        if self.interrupt is not None:
            raise self.interrupt
        if request.model in self.failing:
            raise ServerError("upstream 500")
        return ChatResponse(f"answer from {request.model}", "stop", Usage(10, 5))

    def stream_chat(self, request: ChatRequest) -> ChatStream:
        self.received.append(request)

        def deltas() -> Iterator[ChatDelta]:
            yield ChatDelta(role="assistant", content="")
            for word in ("one ", "two ", "three"):
                yield ChatDelta(content=word)
            yield ChatDelta(finish_reason="stop")
            stream.usage = Usage(10, 3)

        stream = ChatStream(deltas())
        return stream


class DictStore:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.entries[key] = value


@pytest.fixture
def provider() -> MemoryProvider:
    return MemoryProvider()


def make_gateway(
    provider: MemoryProvider,
    *,
    store: DictStore | None = None,
    fallback: bool = False,
    breakers: BreakerBoard | None = None,
) -> Gateway:
    catalogue = ModelCatalogue((), {"memory": MemoryProvider}, ["memory"])
    rules = (FallbackRule("memory.primary", ("memory.backup",)),) if fallback else ()
    executor = Executor(
        {"memory": provider},
        retries=RetryPolicy(RetryConfig(max_attempts=1)),
        budget=RetryBudget(0.2),
        fallbacks=FallbackPolicy(FallbackConfig(rules=rules), catalogue),
        breakers=breakers,
    )
    prices = PriceList({})
    return Gateway(catalogue, executor, prices, cache=store)


def new_call() -> UsageCall:
    return UsageCall(endpoint="completion", principal=Principal("key-1", "Team A", frozenset({"completion"})))


def test_a_completion_routes_the_neutral_request_to_the_provider_model_and_settles_the_call(provider):
    gateway = make_gateway(provider)
    call = new_call()
    result = gateway.complete(call, ChatRequest("memory.primary", HELLO, temperature=0.5, user="u1"))

    sent = provider.received[0]
    assert sent.model == "primary" and sent.request_id == call.request_id and sent.user == "u1"
    assert result.content == "answer from primary" and result.model == "memory.primary"
    assert (call.model, call.provider, call.provider_model, call.user) == ("memory.primary", "memory", "primary", "u1")
    assert call.usage is not None and call.usage.total_tokens == 15 and not call.usage.estimated
    assert call.status is None  # the request's lifecycle records it; the core only fills it in


def test_a_fallbacks_answer_is_never_cached(provider):
    store = DictStore()
    gateway = make_gateway(provider, store=store, fallback=True)
    provider.failing.add("primary")
    request = ChatRequest("memory.primary", HELLO, temperature=0)

    first = gateway.complete(new_call(), request)
    assert first.content == "answer from backup" and first.fallback_from == "memory.primary"
    assert store.entries == {}

    second_call = new_call()
    gateway.complete(second_call, request)
    assert second_call.cache_status == "MISS" and not second_call.cached
    assert [r.model for r in provider.received] == ["primary", "backup", "primary", "backup"]


def test_the_cache_key_holds_every_request_field_but_those_that_cannot_change_the_answer(provider):
    store = DictStore()
    gateway = make_gateway(provider, store=store)
    base = ChatRequest("memory.primary", HELLO, temperature=0, user="u1")
    gateway.complete(new_call(), base)

    same_but_user = new_call()
    gateway.complete(same_but_user, ChatRequest("memory.primary", HELLO, temperature=0, user="someone else"))
    assert same_but_user.cache_status == "HIT" and same_but_user.usage.total_tokens == 15

    for different in (
        ChatRequest("memory.primary", HELLO, temperature=0, top_p=0.5),
        ChatRequest("memory.primary", HELLO, temperature=0, stop=("x",)),
        ChatRequest("memory.primary", HELLO, temperature=0, extra={"seed": 7}),
        ChatRequest("memory.primary", (Message("user", "hello!"),), temperature=0),
    ):
        call = new_call()
        gateway.complete(call, different)
        assert call.cache_status == "MISS", different


def test_cache_options_skip_the_read_or_the_write(provider):
    store = DictStore()
    gateway = make_gateway(provider, store=store)
    request = ChatRequest("memory.primary", HELLO)
    gateway.complete(new_call(), request, CallOptions(cache=True))
    assert len(store.entries) == 1
    bypass = new_call()
    gateway.complete(bypass, request)  # temperature unset and no opt-in: not cacheable
    assert bypass.cache_status == "BYPASS" and len(provider.received) == 2

    deterministic = ChatRequest("memory.primary", HELLO, temperature=0)
    gateway.complete(new_call(), deterministic)
    skip_read = new_call()
    gateway.complete(skip_read, deterministic, CallOptions(cache=False))  # answered upstream, stored again
    assert skip_read.cache_status == "MISS" and len(provider.received) == 4


def test_a_stream_settles_its_usage_and_outcome_once_it_ends(provider):
    gateway = make_gateway(provider)
    call = new_call()
    stream = gateway.stream(call, ChatRequest("memory.primary", HELLO))
    text = "".join(delta.content or "" for delta in stream)
    assert text == "one two three"
    assert stream.usage is not None and stream.usage.completion_tokens == 3
    assert call.usage == stream.usage and call.status == 200 and call.ttft_ms is not None


def test_a_stream_closed_by_the_client_concludes_with_client_closed(provider):
    gateway = make_gateway(provider)
    call = new_call()
    stream = gateway.stream(call, ChatRequest("memory.primary", HELLO))
    iterator = iter(stream)
    next(iterator), next(iterator)
    stream.close()
    assert (call.status, call.error_code) == (499, "client_closed_request")
    assert call.usage is not None and call.usage.estimated  # partial usage, counted by the gateway


def breaker_board() -> BreakerBoard:
    return BreakerBoard(CircuitBreakerConfig(fail_max=1, reset_timeout=0.2), None)


def test_a_client_going_away_during_a_probe_hands_the_probe_back(provider):
    board = breaker_board()
    gateway = make_gateway(provider, breakers=board)
    request = ChatRequest("memory.primary", HELLO)
    provider.failing.add("primary")
    with pytest.raises(GatewayError):
        gateway.complete(new_call(), request)  # one failure opens the breaker (fail_max=1)
    time.sleep(0.25)  # past reset_timeout: the next call is the half-open probe

    provider.interrupt = gevent.GreenletExit()  # the client went away while the probe was in flight
    with pytest.raises(gevent.GreenletExit):
        gateway.complete(new_call(), request)

    provider.interrupt = None
    provider.failing.clear()
    result = gateway.complete(new_call(), request)  # not refused as "another call is probing"
    assert result.content == "answer from primary"
    assert board.snapshot()[0]["state"] == "closed"


def test_a_client_leaving_mid_stream_is_not_a_breaker_failure(provider):
    board = BreakerBoard(CircuitBreakerConfig(fail_max=1, reset_timeout=30), None)
    gateway = make_gateway(provider, breakers=board)
    for _ in range(3):
        stream = gateway.stream(new_call(), ChatRequest("memory.primary", HELLO))
        iterator = iter(stream)
        next(iterator)
        stream.close()
    assert board.snapshot()[0]["state"] == "closed" and board.snapshot()[0]["failures"] == 0


def test_wrapped_streams_report_the_usage_known_so_far_of_the_upstream():
    from llmgateway.core.deployments import InFlightStream
    from llmgateway.core.executor import WatchedStream

    inner = ChatStream(iter([ChatDelta(content="a")]))
    inner.usage_so_far = Usage(7, 0)
    ended: list[bool] = []
    wrapped = WatchedStream(InFlightStream(inner, ended.append), lambda exc: None)
    assert wrapped.usage_so_far == Usage(7, 0) and wrapped.usage is None
    assert [d.content for d in wrapped] == ["a"] and ended == [False]
    inner.usage = Usage(7, 1)
    assert wrapped.usage == Usage(7, 1)
