"""The SDK against real gunicorn gevent workers on PostgreSQL: concurrent plain and streamed completions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy

from tests.conftest import COMPLETION_KEY, base_config
from tests.gunicorn_runner import GunicornGateway
from tests.openai_compat.sdk import import_openai

openai = import_openai()

STREAMS = 12


@pytest.fixture
def gunicorn_url(tmp_path: Path, pg_url: str, fake_openai) -> Iterator[str]:
    with GunicornGateway(tmp_path, base_config(pg_url, fake_openai.url, ledger={"flush_interval": 0.2})) as gateway:
        yield gateway.url


def ledger_endpoints(pg_url: str, expected: int, timeout: float = 10.0) -> list[str]:
    engine = sqlalchemy.create_engine(pg_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as connection:
                endpoints = list(connection.execute(sqlalchemy.text("SELECT endpoint FROM usage_records")).scalars())
            if len(endpoints) >= expected or time.monotonic() > deadline:
                return endpoints
            time.sleep(0.1)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.integration
def test_sdk_through_gunicorn_gevent_workers(gunicorn_url, pg_url, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(20))
    fake_openai.chunk_delay = 0.02
    client = openai.OpenAI(base_url=f"{gunicorn_url}/v1", api_key=COMPLETION_KEY, max_retries=0, timeout=30)
    hello = [{"role": "user", "content": "hello there"}]

    def stream_text(_: int) -> tuple[str, int]:
        chunks = list(
            client.chat.completions.create(
                model="openai.gpt-4o-mini", messages=hello, stream=True, stream_options={"include_usage": True}
            )
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[-1].usage.total_tokens

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=STREAMS) as pool:
            results = list(pool.map(stream_text, range(STREAMS)))
        elapsed = time.monotonic() - started
        plain = client.chat.completions.create(model="openai.gpt-4o-mini", messages=hello)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="openai.gpt-4o-mini", messages=hello, temperature=5)
    finally:
        client.close()

    assert all(text == fake_openai.reply_text and total > 0 for text, total in results)
    assert plain.choices[0].message.content == fake_openai.reply_text
    # 12 streams of 20 chunks x 20 ms each: concurrent on gevent, far below the 5 s they would take one by one.
    assert elapsed < STREAMS * 20 * 0.02 * 0.75, elapsed
    endpoints = ledger_endpoints(pg_url, STREAMS + 2)
    assert sorted(endpoints) == sorted(["openai_chat_stream"] * STREAMS + ["openai_chat"] * 2)
