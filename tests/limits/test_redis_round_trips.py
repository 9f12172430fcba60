"""The hot path's Redis cost: a limited, breaker-protected completion makes two round trips, no more."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.conftest import CHAT, COMPLETION_KEY, auth

END_MARKER = "llmgateway-test-end-of-request"


@contextmanager
def commands_sent(redis_url: str) -> Iterator[list[str]]:
    """Every command clients send to Redis while the block runs (not those a Lua script runs inside Redis)."""
    seen: list[str] = []
    client = redis.Redis.from_url(redis_url)
    marker = redis.Redis.from_url(redis_url)
    marker.ping()  # connected before the watch starts, so its handshake is not counted
    ready = threading.Event()

    def listen() -> None:
        with client.monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                if END_MARKER in entry["command"]:
                    return
                if entry.get("client_type") != "lua" and "lua" not in str(entry.get("client_address", "")):
                    seen.append(entry["command"].split()[0].upper())

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    try:
        yield seen
    finally:
        marker.echo(END_MARKER)
        listener.join(5)
        marker.close()
        client.close()


def test_a_limited_completion_costs_two_redis_round_trips(make_app, redis_url, fake_openai):
    app = make_app(rate_limits={"enabled": True, "default": "100/hour"}, redis={"url": redis_url})
    client = app.test_client()
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code == 200  # warm

    with commands_sent(redis_url) as commands:
        answer = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))

    assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "98"
    # The rate limit's hit also reads the window for the headers (one EVALSHA); the breaker reads its state
    # and failure count together (one MGET) and, with no failures to forget, writes nothing.
    assert sorted(commands) == ["EVALSHA", "MGET"], commands
