"""R1: upstream 5xx/529/429/silence/resets are mapped, retried a few times within one deadline, with backoff
that honours Retry-After; client errors are not retried; nothing is retried after a stream's first byte."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import CHAT, COMPLETION_KEY, auth, ledger_rows
from tests.resilience.conftest import FAST_RETRIES, openai_section
from tests.sse import sse_events

ERROR_BODY = {"error": {"message": "upstream trouble", "type": "server_error", "param": None, "code": None}}
RATE_BODY = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}


@pytest.fixture
def app(make_app, fake_openai):
    return make_app(retries=FAST_RETRIES, circuit_breaker={"enabled": False})


def post(client, path="/api/v1/completion", body=CHAT):
    started = time.monotonic()
    response = client.post(path, json=body, headers=auth(COMPLETION_KEY))
    return response, time.monotonic() - started


@pytest.mark.parametrize("status", [500, 503, 529])
def test_upstream_5xx_is_retried_then_mapped_to_502(client, app, fake_openai, status):
    for _ in range(3):
        fake_openai.push("status", status=status, body=ERROR_BODY)

    response, elapsed = post(client)

    assert response.status_code == 502
    assert response.json["error"]["code"] == "server_error"
    assert len(fake_openai.requests) == 3  # max_attempts
    assert elapsed < 5
    [row] = ledger_rows(app)
    assert row["status_code"] == 502 and row["total_tokens"] == 0
    assert [(a["attempt"], a["upstream_status"], a["error"]) for a in row["attempts"]] == [
        (1, status, "server_error"),
        (2, status, "server_error"),
        (3, status, "server_error"),
    ]


def test_a_transient_5xx_is_hidden_by_a_retry(client, app, fake_openai):
    fake_openai.push("status", status=503, body=ERROR_BODY)

    response, _ = post(client)

    assert response.status_code == 200
    assert len(fake_openai.requests) == 2
    [row] = ledger_rows(app)
    assert row["status_code"] == 200 and row["completion_tokens"] > 0
    assert [a["upstream_status"] for a in row["attempts"]] == [503]


def test_429_waits_for_retry_after_then_succeeds(client, app, fake_openai):
    fake_openai.push("status", status=429, headers={"Retry-After": "1"}, body=RATE_BODY)

    response, elapsed = post(client)

    assert response.status_code == 200
    assert len(fake_openai.requests) == 2
    assert 0.9 <= elapsed < 4


def test_429_with_a_long_retry_after_is_returned_at_once(client, app, fake_openai):
    fake_openai.push("status", status=429, headers={"Retry-After": "30"}, body=RATE_BODY)

    response, elapsed = post(client)

    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limit_exceeded"
    assert response.headers["Retry-After"] == "30"
    assert len(fake_openai.requests) == 1
    assert elapsed < 2


def test_upstream_client_errors_are_not_retried(client, app, fake_openai):
    fake_openai.push(
        "status",
        status=400,
        body={"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}},
    )
    response, _ = post(client)

    assert response.status_code == 400
    assert len(fake_openai.requests) == 1


def test_connection_reset_is_retried_and_mapped_to_502(client, app, fake_openai):
    for _ in range(3):
        fake_openai.push("reset")

    response, elapsed = post(client)

    assert response.status_code == 502
    assert response.json["error"]["code"] == "server_error"
    assert len(fake_openai.requests) == 3
    assert elapsed < 5


def test_silent_upstream_times_out_within_the_request_deadline(make_app, fake_openai):
    app = make_app(
        providers=openai_section(fake_openai, timeout=1),
        retries={**FAST_RETRIES, "request_deadline": 2.5},
        circuit_breaker={"enabled": False},
    )
    for _ in range(3):
        fake_openai.push("silence", seconds=6)

    response, elapsed = post(app.test_client())

    assert response.status_code == 504
    assert response.json["error"]["code"] == "timeout"
    assert 2 <= len(fake_openai.requests) <= 3  # 1 s per attempt, all inside the 2.5 s deadline
    assert elapsed < 2.5 + 1.0
    [row] = ledger_rows(app)
    assert row["status_code"] == 504 and row["error_code"] == "timeout"


def test_stream_is_retried_before_its_first_byte(client, app, fake_openai):
    fake_openai.push("status", status=503, body=ERROR_BODY)

    response, _ = post(client, "/api/v1/completion/stream")

    assert response.status_code == 200
    assert sse_events(response.data)[-1] == "[DONE]"
    assert len(fake_openai.requests) == 2


def test_stream_is_never_retried_after_its_first_byte(client, app, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.push("cut_after", after=3)

    response, _ = post(client, "/api/v1/completion/stream")

    events = sse_events(response.data)
    assert json.loads(events[-1])["error"]["code"] == "server_error"
    assert "[DONE]" not in events
    assert len(fake_openai.requests) == 1


def test_after_a_burst_of_failures_a_quiet_gateway_still_retries_a_transient_500(client, app, fake_openai):
    """The budget's floor (10 retries per second, Finagle's reference): a burst of failing requests spends the
    share of recent requests, yet the next lone transient 500 is still retried and hidden from the client."""
    for _ in range(12 * 3):
        fake_openai.push("status", status=500, body=ERROR_BODY)
    burst = [post(client)[0].status_code for _ in range(12)]
    assert burst == [502] * 12 and len(fake_openai.requests) == 36  # every failing request got its retries

    fake_openai.push("status", status=500, body=ERROR_BODY)
    response, _ = post(client)

    assert response.status_code == 200, response.json
    assert len(fake_openai.requests) == 36 + 2
