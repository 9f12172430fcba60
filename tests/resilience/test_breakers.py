"""R3: a circuit breaker per provider deployment opens after N consecutive upstream failures, fails fast
(no upstream call) while open, lets one probe through after the reset timeout, closes on success, and shares
its state through Redis; 4xx, 429 and client disconnects do not count."""

from __future__ import annotations

import time

import pytest

from llmgateway.config import CircuitBreakerConfig, RedisConfig
from llmgateway.infra.breakers import BreakerBoard, BreakerOpen
from llmgateway.infra.redis_client import RedisConnector
from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, auth
from tests.resilience.conftest import FAST_RETRIES

ERROR_BODY = {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}}
BREAKER = {"fail_max": 3, "reset_timeout": 1.5}
ONE_ATTEMPT = {**FAST_RETRIES, "max_attempts": 1}


def complete(client):
    return client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))


def breakers(client):
    response = client.get("/api/v1/admin/breakers", headers=auth(ADMIN_KEY))
    assert response.status_code == 200
    return response.json["data"]


def always_503(fake, n=100):
    for _ in range(n):
        fake.push("status", status=503, body=ERROR_BODY)


def test_opens_after_consecutive_failures_fails_fast_probes_once_and_closes(make_app, fake_openai):
    client = make_app(circuit_breaker=BREAKER, retries=ONE_ATTEMPT).test_client()
    always_503(fake_openai)

    statuses = [complete(client).status_code for _ in range(3)]
    assert statuses == [502, 502, 502]
    assert len(fake_openai.requests) == 3

    started = time.monotonic()
    fast = [complete(client) for _ in range(20)]
    fail_fast_ms = (time.monotonic() - started) * 1000 / 20
    assert {r.status_code for r in fast} == {503}
    assert fast[0].json["error"]["code"] == "service_unavailable"
    assert 1 <= int(fast[0].headers["Retry-After"]) <= 2
    assert len(fake_openai.requests) == 3  # upstream hits stopped growing
    assert fail_fast_ms < 100
    [entry] = breakers(client)
    assert entry["state"] == "open" and entry["failures"] >= 3
    assert entry["provider"] == "openai" and entry["model"] == "gpt-4o-mini"
    assert entry["opened_at"] and entry["retry_after"] in (0, 1, 2)

    time.sleep(1.6)
    assert complete(client).status_code == 502  # the probe, still failing: open again
    assert len(fake_openai.requests) == 4
    assert complete(client).status_code == 503
    assert len(fake_openai.requests) == 4

    fake_openai.faults.clear()
    time.sleep(1.6)
    assert complete(client).status_code == 200  # the probe succeeds: closed
    assert [complete(client).status_code for _ in range(3)] == [200, 200, 200]
    assert len(fake_openai.requests) == 8
    assert breakers(client)[0]["state"] == "closed"


def test_state_is_shared_through_redis_between_two_instances(make_app, fake_openai, redis_url):
    sections = {"circuit_breaker": BREAKER, "retries": ONE_ATTEMPT, "redis": {"url": redis_url}}
    first = make_app(**sections).test_client()
    second = make_app(**sections).test_client()
    always_503(fake_openai)

    assert [complete(first).status_code for _ in range(3)] == [502, 502, 502]

    response = complete(second)
    assert response.status_code == 503 and response.json["error"]["code"] == "service_unavailable"
    assert len(fake_openai.requests) == 3
    [entry] = breakers(second)
    assert entry["state"] == "open"

    fake_openai.faults.clear()
    time.sleep(2.1)  # Redis keeps opened_at in whole seconds
    assert complete(second).status_code == 200  # the probe from the other instance closes it for both
    assert breakers(first)[0]["state"] == "closed"
    assert complete(first).status_code == 200


def test_client_errors_and_429s_do_not_count(make_app, fake_openai):
    client = make_app(circuit_breaker={"fail_max": 2, "reset_timeout": 30}, retries=ONE_ATTEMPT).test_client()
    for _ in range(3):
        fake_openai.push("status", status=400, body={"error": {"message": "bad", "type": "invalid_request_error"}})
        fake_openai.push("status", status=429, headers={"Retry-After": "30"}, body={"error": {"message": "slow down"}})

    assert [complete(client).status_code for _ in range(6)] == [400, 429] * 3

    [entry] = breakers(client)
    assert entry["state"] == "closed" and entry["failures"] == 0
    assert complete(client).status_code == 200


def test_a_client_disconnect_mid_stream_does_not_count_but_an_upstream_cut_does(make_app, fake_openai):
    client = make_app(circuit_breaker={"fail_max": 1, "reset_timeout": 30}).test_client()
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(50))

    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY), buffered=False)
    chunks = iter(response.response)
    next(chunks), next(chunks)
    response.close()  # the client goes away
    assert breakers(client)[0]["state"] == "closed"

    fake_openai.push("cut_after", after=3)
    assert b'"server_error"' in client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY)).data
    assert breakers(client)[0]["state"] == "open"  # a mid-stream upstream failure counts


def test_neutral_outcomes_leave_the_breaker_closed_and_a_fault_opens_it():
    """The breaker's protocol as the executor drives it (tests/core/test_gateway.py drives it through the
    executor: a client going away is neutral there, also during a probe and mid-stream)."""
    board = BreakerBoard(CircuitBreakerConfig(fail_max=1, reset_timeout=30), None)
    breaker = board.breaker("openai", "http://up", "m")

    for _ in range(3):
        breaker.record_neutral(breaker.admit())
    assert breaker.snapshot()["state"] == "closed"

    breaker.record_failure(breaker.admit(), RuntimeError("upstream down"))
    with pytest.raises(BreakerOpen):
        breaker.admit()


def test_redis_down_at_start_keeps_local_breaker_state(make_app, fake_openai):
    client = make_app(
        circuit_breaker=BREAKER, retries=ONE_ATTEMPT, redis={"url": "redis://127.0.0.1:1/0"}
    ).test_client()  # nothing listens there
    always_503(fake_openai)

    assert [complete(client).status_code for _ in range(4)] == [502, 502, 502, 503]
    assert len(fake_openai.requests) == 3


def test_concurrent_calls_share_one_state_read(redis_url):
    import threading

    connector = RedisConnector(RedisConfig(url=redis_url))
    board = BreakerBoard(CircuitBreakerConfig(fail_max=3, reset_timeout=30), connector)
    breaker = board.breaker("openai", "http://up", "m")
    breaker.record_success(breaker.admit())  # creates the shared state
    reads: list[float] = []
    plain_run = connector.run

    def slow_run(command):  # a read that takes 100 ms, as under a busy Redis or a busy worker
        reads.append(time.monotonic())
        time.sleep(0.1)
        return plain_run(command)

    connector.run = slow_run
    start = threading.Barrier(10)
    answers: list[str] = []

    def call() -> None:
        start.wait()
        ticket = breaker.admit()
        breaker.record_success(ticket)
        answers.append("ok")

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    connector.close()

    assert answers == ["ok"] * 10
    assert 1 <= len(reads) <= 3  # ten calls in flight together, one read (a straggler may start another)
