"""Balancing state on real Redis: in-flight counts and cooldowns are fleet-wide, and a dead worker's counts expire."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from llmgateway.config import RedisConfig
from llmgateway.infra.balancing_state import RedisBalancingState
from llmgateway.infra.redis_client import RedisConnector

CONNECTORS: list[RedisConnector] = []


@pytest.fixture(autouse=True)
def _close_connectors() -> Iterator[None]:
    yield
    while CONNECTORS:
        CONNECTORS.pop().close()


def worker(redis_url: str, **kwargs: float) -> RedisBalancingState:
    CONNECTORS.append(RedisConnector(RedisConfig(url=redis_url)))
    return RedisBalancingState(CONNECTORS[-1], **kwargs)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_two_workers_see_each_others_requests_in_flight(redis_url):
    one, two = worker(redis_url, sync_interval=0.05), worker(redis_url, sync_interval=0.05)
    try:
        for _ in range(4):
            one.begin("azure-eu/gpt")
        two.begin("azure-eu/gpt")
        assert wait_for(lambda: two.loads(["azure-eu/gpt"], fresh=True)["azure-eu/gpt"].in_flight == 5)
        assert one.stats(["azure-eu/gpt"])["azure-eu/gpt"].in_flight == 5
        for _ in range(4):
            one.end("azure-eu/gpt", seconds=0.2, failed=False)
        assert wait_for(lambda: two.loads(["azure-eu/gpt"], fresh=True)["azure-eu/gpt"].in_flight == 1)
    finally:
        one.close(), two.close()


def test_a_dead_workers_counts_expire(redis_url):
    dying, survivor = worker(redis_url, entry_ttl=1.0, sync_interval=0.05), worker(redis_url, entry_ttl=1.0)
    try:
        for _ in range(3):
            dying.begin("groq/llama")
        assert wait_for(lambda: survivor.loads(["groq/llama"], fresh=True)["groq/llama"].in_flight == 3)
        dying._stop.set()  # as after kill -9: no more heartbeats, nothing taken back
        time.sleep(0.1)
        assert wait_for(lambda: survivor.loads(["groq/llama"], fresh=True)["groq/llama"].in_flight == 0, 3.0)
        assert survivor.stats(["groq/llama"])["groq/llama"].in_flight == 0
    finally:
        survivor.close()


def test_a_cooldown_is_seen_by_every_worker(redis_url):
    one, two = worker(redis_url), worker(redis_url)
    try:
        one.cool_down("openai/gpt-4o", 7)
        until = two.loads(["openai/gpt-4o"], fresh=True)["openai/gpt-4o"].cooldown_until
        assert 6 <= until - time.time() <= 7
        assert 6 <= two.stats(["openai/gpt-4o"])["openai/gpt-4o"].cooldown_until - time.time() <= 7
    finally:
        one.close(), two.close()
