"""The retry budget (20 % of recent requests plus 10 retries per second, as Finagle's) and the retry policy's
backoff and classification."""

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


def test_budget_is_a_fifth_of_recent_requests_plus_a_floor_per_second():
    """Finagle's reference budget: 20 % of the requests of the last ttl plus 10 retries per second of it."""
    clock = Clock()
    budget = RetryBudget(0.2, min_per_second=10, ttl=10, clock=clock)
    assert withdrawals(budget) == 100  # quiet: the floor alone, 10/s over the 10 s window

    clock.now += 11  # the floor's withdrawals expired
    for _ in range(100):
        budget.deposit()
    assert withdrawals(budget) == 100 + 20  # the floor plus 20 % of 100 (their sum, as in Finagle)

    clock.now += 5
    for _ in range(50):
        budget.deposit()
    assert withdrawals(budget) == 10
    clock.now += 6  # the first 100 requests and their 120 retries left the window
    assert withdrawals(budget) == 100 + 10 - 10


def test_both_parts_of_the_budget_are_configurable():
    clock = Clock()
    assert withdrawals(RetryBudget(0.5, min_per_second=0, ttl=10, clock=clock)) == 0
    budget = RetryBudget(0.5, min_per_second=0.3, ttl=10, clock=clock)
    for _ in range(10):
        budget.deposit()
    assert withdrawals(budget) == 3 + 5


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


@pytest.mark.parametrize(
    ("failure", "transient", "fault"),
    [
        (Failure(ServerError(), 500), True, True),
        (Failure(ServerError(), 529), True, True),
        (Failure(ServerError(), None), True, True),  # connection refused / reset
        (Failure(GatewayTimeout(), None), True, True),
        (Failure(RateLimitExceeded(), 429), True, False),
        (Failure(ServerError(), 401), False, False),  # the upstream refused the gateway's credentials
        (Failure(ServerError(), 200), False, True),  # an unreadable answer
        (Failure(InvalidRequest(), 400), False, False),
        (Failure(ContextLengthExceeded(), 400), False, False),
    ],
)
def test_failure_classification(failure, transient, fault):
    assert failure.transient is transient
    assert failure.upstream_fault is fault
