"""R4: no retry storms. Against an always-503 upstream, 1,000 requests at concurrency 50 cause at most
1.2 upstream calls per request plus the budget's floor (10 retries per second of the run and its 10 s window): the
retry budget alone guarantees it, and the breaker cuts it further."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llmgateway.config import RetryConfig
from tests.conftest import CHAT, COMPLETION_KEY, auth
from tests.resilience.conftest import FAST_RETRIES

REQUESTS = 1000
CONCURRENCY = 50
ERROR_BODY = {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}}


def storm(app, fake):
    for _ in range(REQUESTS * 3 + 10):  # enough 503s for every attempt the gateway could make
        fake.push("status", status=503, body=ERROR_BODY)

    def one(_: int) -> int:
        return app.test_client().post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        statuses = list(pool.map(one, range(REQUESTS)))
    return statuses, len(fake.requests), time.monotonic() - started


@pytest.mark.parametrize("breaker", [False, True], ids=["budget-only", "budget-and-breaker"])
def test_always_failing_upstream_gets_no_retry_storm(make_app, fake_openai, breaker, capsys):
    app = make_app(retries=FAST_RETRIES, circuit_breaker={"enabled": breaker, "fail_max": 5, "reset_timeout": 30})

    statuses, hits, elapsed = storm(app, fake_openai)

    assert set(statuses) <= {502, 503}
    floor = RetryConfig().budget_min_per_second * (math.ceil(elapsed) + 10)  # 10/s over the run and its window
    assert hits <= 1.2 * REQUESTS + floor
    if breaker:
        assert hits < 0.2 * REQUESTS  # once open, requests fail fast without an upstream call
    with capsys.disabled():
        print(
            f"\n[R4 {'breaker' if breaker else 'budget only'}] {REQUESTS} requests -> {hits} upstream hits "
            f"({hits / REQUESTS:.3f}/request) in {elapsed:.1f}s"
        )
