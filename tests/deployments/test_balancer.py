"""The balancer's strategies on per-worker state: exact weighted shares, least busy, latency, order, skipping."""

from __future__ import annotations

from collections import Counter

import pytest

from llmgateway.core.balancing import Balancer, Deployment
from llmgateway.errors import RateLimitExceeded
from llmgateway.infra.balancing_state import MemoryBalancingState

A = Deployment("fast", "m", 3)
B = Deployment("slow", "m", 1)


def first_choices(balancer: Balancer, strategy: str, deployments: list[Deployment], n: int) -> Counter[str]:
    return Counter(balancer.plan("model", deployments, strategy)[0].key for _ in range(n))


def test_weighted_gives_each_deployment_its_exact_share_and_keeps_the_rest_as_next_choices():
    balancer = Balancer(MemoryBalancingState())
    assert first_choices(balancer, "weighted", [A, B], 400) == {"fast/m": 300, "slow/m": 100}
    plan = balancer.plan("model", [A, B], "weighted")
    assert sorted(d.key for d in plan) == ["fast/m", "slow/m"]  # a failed attempt has somewhere to go


def test_least_busy_prefers_fewer_requests_in_flight_per_weight():
    state = MemoryBalancingState()
    balancer = Balancer(state)
    a, b = Deployment("a", "m"), Deployment("b", "m")
    for _ in range(3):
        state.begin("a/m")
    assert first_choices(balancer, "least_busy", [a, b], 10) == {"b/m": 10}
    for _ in range(3):
        state.end("a/m", seconds=0.1, failed=False)
    assert set(first_choices(balancer, "least_busy", [a, b], 10)) == {"a/m", "b/m"}  # idle: both get turns


def test_latency_prefers_the_faster_moving_average_but_still_measures_the_other():
    state = MemoryBalancingState()
    balancer = Balancer(state)
    a, b = Deployment("a", "m"), Deployment("b", "m")
    for _ in range(5):
        state.begin("a/m"), state.end("a/m", seconds=0.5, failed=False)
        state.begin("b/m"), state.end("b/m", seconds=0.05, failed=False)
    choices = first_choices(balancer, "latency", [a, b], 100)
    assert choices["b/m"] == 95 and choices["a/m"] == 5


def test_ordered_keeps_the_configured_order():
    balancer = Balancer(MemoryBalancingState())
    assert [d.key for d in balancer.plan("model", [B, A], "ordered")] == ["slow/m", "fast/m"]


def test_cooling_and_open_deployments_are_skipped_and_all_cooling_is_a_429():
    state = MemoryBalancingState()
    open_breakers: set[str] = set()
    balancer = Balancer(state, breaker_open=lambda d: d.key in open_breakers)
    state.cool_down("fast/m", 30)
    assert [d.key for d in balancer.plan("model", [A, B], "weighted")] == ["slow/m"]
    open_breakers.add("slow/m")  # the only warm one has an open breaker: it is still tried (its breaker answers)
    assert [d.key for d in balancer.plan("model", [A, B], "weighted")] == ["slow/m"]
    state.cool_down("slow/m", 12)
    with pytest.raises(RateLimitExceeded) as raised:
        balancer.plan("model", [A, B], "weighted")
    assert 11 <= raised.value.retry_after <= 12
