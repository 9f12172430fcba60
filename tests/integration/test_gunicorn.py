"""The real thing: gunicorn with gevent workers, streaming many concurrent SSE responses, ledger on PostgreSQL."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_KEY, COMPLETION_KEY, base_config
from tests.gunicorn_runner import GunicornGateway
from tests.sse import streamed_data

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _stream(url: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    first = None
    events: list[str] = []
    with requests.post(
        f"{url}/api/v1/completion/stream",
        headers={"X-API-Key": COMPLETION_KEY},
        stream=True,
        json={"model": "openai.gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        for data in streamed_data(response):
            first = first or time.perf_counter() - started
            events.append(data)
    return first or 0.0, events


def test_streams_through_gunicorn_gevent_workers(tmp_path, pg_url, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.chunk_delay = 0.1  # ten chunks, one second per stream
    config = base_config(pg_url, fake_openai.url)
    with GunicornGateway(tmp_path, config, workers=2) as gateway:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=30) as pool:
            results = list(pool.map(lambda _: _stream(gateway.url), range(30)))
        elapsed = time.perf_counter() - started
        plain = requests.post(
            f"{gateway.url}/api/v1/completion",
            headers={"X-API-Key": ADMIN_KEY},
            timeout=10,
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        )
        assert plain.status_code == 200 and plain.headers["X-LLMGateway-Request-ID"]
        gateway.stop()  # worker_exit drains the ledger
        log = gateway.log()

    # 30 one-second streams over 2 gevent workers run concurrently, not one after another.
    assert elapsed < 10, elapsed
    for first_event, events in results:
        assert events[-1] == "[DONE]"
        usage = json.loads(events[-2])["usage"]
        assert usage["completion_tokens"] == 10
        assert first_event < 2
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            counts = connection.execute(
                text("SELECT count(*), sum(completion_tokens) FROM usage_records WHERE endpoint = 'completion_stream'")
            ).one()
    finally:
        engine.dispose()
    assert tuple(counts) == (30, 300)
    assert "Traceback" not in log
    assert "MonkeyPatchWarning" not in log
