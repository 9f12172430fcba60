"""Streams under real gunicorn with gevent workers: R8 (a client that goes away closes the upstream at once
and leaves a partial record), R2 and the timeouts on gevent-patched sockets, and many concurrent streams on
one worker's connection pool."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import CHAT, COMPLETION_KEY, auth
from tests.fakes.openai import FakeOpenAI
from tests.resilience.conftest import FAST_RETRIES, openai_section
from tests.sse import streamed_data

pytestmark = pytest.mark.slow

STREAM = "/api/v1/completion/stream"


def wait_for(predicate, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def ledger(db_url: str) -> list[dict]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status_code, error_code, completion_tokens, tokens_estimated FROM usage_records")
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def test_client_disconnect_closes_the_upstream_within_a_second_and_records_partial_usage(
    gunicorn_gateway, fake_openai, tmp_path: Path, capsys
):
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    url = gunicorn_gateway(db_url, fake_openai.url)
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(100))
    fake_openai.chunk_delay = 0.05

    response = requests.post(url + STREAM, json=CHAT, headers=auth(COMPLETION_KEY), stream=True, timeout=10)
    assert response.status_code == 200
    read = 0
    for event in streamed_data(response):
        if json.loads(event)["choices"] and json.loads(event)["choices"][0]["delta"].get("content"):
            read += 1
        if read == 10:
            break
    response.close()
    closed_at = time.monotonic()

    assert wait_for(lambda: fake_openai.closed_streams == 1, timeout=1.0), "upstream still open after 1 s"
    upstream_closed_ms = (time.monotonic() - closed_at) * 1000
    rows = wait_for(lambda: ledger(db_url), timeout=5)
    [row] = rows
    assert row["status_code"] == 499 and row["error_code"] == "client_closed_request"
    assert 10 <= row["completion_tokens"] < 100 and row["tokens_estimated"]
    with capsys.disabled():
        print(f"\n[R8] upstream socket closed {upstream_closed_ms:.0f} ms after the client went away")


def test_stream_faults_and_timeouts_on_gevent_sockets(gunicorn_gateway, fake_openai, tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    url = gunicorn_gateway(
        db_url,
        fake_openai.url,
        providers=openai_section(fake_openai, timeout=1, stream_idle_timeout=0.5),
        retries={**FAST_RETRIES, "max_attempts": 2, "request_deadline": 3},
        circuit_breaker={"enabled": False},
    )
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))

    # R2: the upstream resets after 5 chunks -> one error event, no [DONE]
    fake_openai.push("cut_after", after=5)
    events = list(
        streamed_data(requests.post(url + STREAM, json=CHAT, headers=auth(COMPLETION_KEY), stream=True, timeout=10))
    )
    assert json.loads(events[-1])["error"]["code"] == "server_error" and "[DONE]" not in events

    # an upstream that accepts and stays silent: 504 JSON before the stream, within the deadline
    fake_openai.push("silence", seconds=5)
    fake_openai.push("silence", seconds=5)
    started = time.monotonic()
    response = requests.post(url + STREAM, json=CHAT, headers=auth(COMPLETION_KEY), timeout=10)
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 3.5

    # a stream that goes silent mid-way: cut by the idle timeout, not by the 2-s gap
    fake_openai.chunk_delay = 2.0
    started = time.monotonic()
    events = list(
        streamed_data(requests.post(url + STREAM, json=CHAT, headers=auth(COMPLETION_KEY), stream=True, timeout=10))
    )
    assert json.loads(events[-1])["error"]["code"] == "timeout"
    assert time.monotonic() - started < 1.8


@pytest.fixture
def fresh_fake() -> Iterator[FakeOpenAI]:
    """An upstream of this test's own: the session one may still be serving streams an earlier test abandoned."""
    server = FakeOpenAI().start()
    yield server
    server.stop()


def test_a_hundred_concurrent_streams_share_one_workers_pool(gunicorn_gateway, fresh_fake, tmp_path: Path):
    fake_openai = fresh_fake
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    url = gunicorn_gateway(db_url, fake_openai.url)
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(20))
    fake_openai.chunk_delay = 0.02

    def one(_: int) -> str:
        with requests.post(url + STREAM, json=CHAT, headers=auth(COMPLETION_KEY), stream=True, timeout=30) as r:
            return list(streamed_data(r))[-1]

    with ThreadPoolExecutor(100) as pool:
        last = list(pool.map(one, range(100)))

    assert last == ["[DONE]"] * 100
    log = "".join(p.read_text() for p in tmp_path.glob("gunicorn-*.log"))
    assert "Connection pool is full" not in log
