"""R7 through real gunicorn (gevent workers): SIGTERM with open streams, SIGKILL right after an answer."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from llmgateway import create_app
from llmgateway.infra.models import UsageRecord
from tests.conftest import CHAT, COMPLETION_KEY, base_config
from tests.gunicorn_runner import GunicornGateway
from tests.sse import streamed_data

pytestmark = pytest.mark.slow
GRACEFUL = 6


def gunicorn(tmp_path: Path, db_url: str, fake_url: str, workers: int, **ledger) -> GunicornGateway:
    """The gateway under gunicorn, its ledger spool in `tmp_path/spool`, started."""
    config = base_config(db_url, fake_url, ledger={"spool_dir": str(tmp_path / "spool"), **ledger})
    return GunicornGateway(
        tmp_path, config, workers=workers, graceful_timeout=GRACEFUL, env={"GUNICORN_LOG_LEVEL": "warning"}
    ).start()


def records(db_url: str) -> dict[str, UsageRecord]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return {r.request_id: r for r in connection.execute(select(UsageRecord)).all()}
    finally:
        engine.dispose()


def recovered_records(tmp_path: Path, db_url: str, fake_url: str) -> tuple[dict[str, UsageRecord], int]:
    """PostgreSQL's rows once a new process has drained what the stopped workers left in the spool (their drain
    on exit is bounded by the shutdown margin; the rest waits for the next start), and how many that was."""
    left = records(db_url)
    app = create_app(base_config(db_url, fake_url, ledger={"spool_dir": str(tmp_path / "spool")}))
    services = app.extensions["llmgateway"]
    try:
        assert services.ledger.flush(30), "the spool did not drain"
    finally:
        services.close()
    rows = records(db_url)
    return rows, len(rows) - len(left)


def stream(url: str, body: dict, out: dict) -> None:
    with requests.post(
        url + "/api/v1/completion/stream",
        json=body,
        headers={"X-API-Key": COMPLETION_KEY},
        stream=True,
        timeout=(5, 30),
    ) as response:
        out["id"] = response.headers["X-LLMGateway-Request-ID"]
        events = []
        try:
            for data in streamed_data(response):
                events.append(data)
        except requests.RequestException as exc:
            out["broken"] = repr(exc)
        out["events"] = events
        out["ended"] = time.monotonic()


# Failed once in CI: one of 20 records was not in PostgreSQL after the master exited. A worker's drain on exit is
# bounded by the shutdown margin, and what misses it stays in the spool for the next start, so the records are
# now checked after a new process has recovered the spool. One rerun is kept until this is seen to hold in CI.
@pytest.mark.flaky(reruns=1)
def test_sigterm_with_open_streams_finishes_or_ends_them_in_band_and_records_each_once(tmp_path, pg_url, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(120))
    fake_openai.chunk_delay = 0.1  # 12 s for a long stream; 1.2 s for 12 tokens
    server = gunicorn(tmp_path, pg_url, fake_openai.url, workers=2)
    results = [{} for _ in range(20)]
    try:
        threads = []
        for i, out in enumerate(results):
            body = {**CHAT, "max_tokens": 25} if i % 2 else dict(CHAT)  # short (2.5 s) and long (12 s) streams
            threads.append(threading.Thread(target=stream, args=(server.url, body, out)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
        server.process.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        for thread in threads:
            thread.join(GRACEFUL + 10)
        assert server.process.wait(GRACEFUL + 10) == 0
    finally:
        server.stop()

    for i, out in enumerate(results):
        assert "broken" not in out, out
        assert out["ended"] - terminated < GRACEFUL
        last = out["events"][-1]
        if i % 2:
            assert last == "[DONE]", f"short stream {i} was not allowed to finish"
        else:
            assert json.loads(last)["error"]["code"] == "service_unavailable"
    rows, recovered = recovered_records(tmp_path, pg_url, fake_openai.url)
    assert sorted(rows) == sorted(out["id"] for out in results), f"{recovered} recovered from the spool"
    for i, out in enumerate(results):
        row = rows[out["id"]]
        assert row.status_code == (200 if i % 2 else 503)
        assert row.completion_tokens > 0


def test_a_worker_killed_right_after_answering_still_gets_its_record_into_the_ledger(tmp_path, pg_url, fake_openai):
    server = gunicorn(tmp_path, pg_url, fake_openai.url, workers=1, flush_interval=30)
    try:
        response = requests.post(
            server.url + "/api/v1/completion", json=CHAT, headers={"X-API-Key": COMPLETION_KEY}, timeout=10
        )
        assert response.status_code == 200
        request_id = response.headers["X-LLMGateway-Request-ID"]
        [worker] = server.workers()
        os.kill(worker, signal.SIGKILL)
        spooled = b"".join(p.read_bytes() for p in (tmp_path / "spool").rglob("seg-*.jsonl"))
        assert request_id.encode() in spooled, "the row was durable before the response"
        assert request_id not in records(pg_url)

        deadline = time.monotonic() + 20  # the replacement worker recovers the dead worker's segment at start
        while request_id not in records(pg_url) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert request_id in records(pg_url)
        assert records(pg_url)[request_id].prompt_tokens == fake_openai.served[-1].prompt_tokens
    finally:
        server.stop()
