"""The retry budget (about 20% of recent requests) and the retry policy's backoff and classification."""

from __future__ import annotations

import random

import pytest

from llmgateway.config import RetryConfig
from llmgateway.core.retries import Failure, RetryBudget, RetryPolicy
from llmgateway.errors import ContextLengthExceeded, GatewayTimeout, InvalidRequest, RateLimitExceeded, ServerError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def withdrawals(budget: RetryBudget) -> int:
    count = 0
    while budget.try_withdraw():
        count += 1
    return count


def test_budget_allows_a_small_reserve_when_quiet_and_a_fifth_of_recent_requests_when_busy():
    clock = Clock()
    budget = RetryBudget(0.2, ttl=10, reserve=3, clock=clock)
    assert withdrawals(budget) == 3

    clock.now += 11  # the reserve's withdrawals expired
    for _ in range(100):
        budget.deposit()
    assert withdrawals(budget) == 20  # max(reserve, 20% of 100), not their sum

    clock.now += 5
    for _ in range(50):
        budget.deposit()
    assert withdrawals(budget) == 10
    clock.now += 6  # the first 100 requests and their 20 retries left the window
    assert withdrawals(budget) == 0


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(RetryConfig(max_attempts=10, backoff_base=0.2, backoff_max=1.0), random.Random(7))
    failure = Failure(ServerError(), 503)
    delays = [policy.delay(failure, attempt) for attempt in range(1, 6)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(1.0, 0.2 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(failure, 10) is None  # max_attempts reached


def test_retry_after_is_honoured_up_to_the_limit():
    policy = RetryPolicy(RetryConfig(max_retry_after=10))
    assert policy.delay(Failure(RateLimitExceeded(retry_after=2.5), 429), 1) == 2.5
    assert policy.delay(Failure(RateLimitExceeded(retry_after=11), 429), 1) is None
    assert policy.delay(Failure(ServerError(retry_after=3), 503), 1) == 3


@pytest.mark.parametrize(("failure", "transient", "fault"), [
    (Failure(ServerError(), 500), True, True),
    (Failure(ServerError(), 529), True, True),
    (Failure(ServerError(), None), True, True),          # connection refused / reset
    (Failure(GatewayTimeout(), None), True, True),
    (Failure(RateLimitExceeded(), 429), True, False),
    (Failure(ServerError(), 401), False, False),         # the upstream refused the gateway's credentials
    (Failure(ServerError(), 200), False, True),          # an unreadable answer
    (Failure(InvalidRequest(), 400), False, False),
    (Failure(ContextLengthExceeded(), 400), False, False),
])
def test_failure_classification(failure, transient, fault):
    assert failure.transient is transient
    assert failure.upstream_fault is fault
