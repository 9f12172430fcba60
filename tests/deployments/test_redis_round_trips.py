"""The routing decision's Redis cost: `least_busy` adds one script call per request, the other strategies none."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from tests.conftest import COMPLETION_KEY, auth
from tests.deployments.conftest import pool_config

POOL_CHAT = {"model": "pool", "messages": [{"role": "user", "content": "hello there"}]}
END_MARKER = "llmgateway-deployments-test-end"


@contextmanager
def commands_of(redis_url: str, client_name: str) -> Iterator[list[str]]:
    """The commands that connections named `client_name` send while the block runs (MONITOR, then matched to
    those connections by CLIENT LIST, so other tests' background threads on the same database do not count)."""
    seen: list[tuple[str, str]] = []
    ours: list[str] = []
    monitor_client, marker = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    marker.ping()
    ready = threading.Event()

    def listen() -> None:
        with monitor_client.monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                if END_MARKER in entry["command"]:
                    return
                if entry.get("client_type") != "lua":
                    address = f"{entry.get('client_address')}:{entry.get('client_port')}"
                    seen.append((address, entry["command"].split()[0].upper()))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    try:
        yield ours
    finally:
        marker.echo(END_MARKER)
        listener.join(5)
        named = {c["addr"] for c in marker.client_list() if c.get("name") == client_name}
        ours.extend(command for address, command in seen if address in named)
        marker.close()
        monitor_client.close()


@pytest.mark.parametrize(
    ("strategy", "added"), [("least_busy", ["EVALSHA"]), ("weighted", []), ("latency", []), ("ordered", [])]
)
def test_routing_adds_at_most_one_round_trip(make_app, alpha, beta, redis_url, strategy, added):
    name = f"rt-{uuid.uuid4().hex[:8]}"  # the gateway's connections carry this name; only theirs are counted
    # A long sync interval keeps the write-behind publisher (a background thread) out of the counted window.
    app = make_app(
        **pool_config(
            alpha,
            beta,
            strategy,
            redis={"url": f"{redis_url}?client_name={name}"},
            rate_limits={"enabled": True, "default": "1000/hour"},
            balancing={"sync_interval": 60},
        )
    )
    client = app.test_client()
    for _ in range(2):  # warm: breakers registered, scripts loaded
        assert client.post("/api/v1/completion", json=POOL_CHAT, headers=auth(COMPLETION_KEY)).status_code == 200

    with commands_of(redis_url, name) as commands:
        answer = client.post("/api/v1/completion", json=POOL_CHAT, headers=auth(COMPLETION_KEY))

    assert answer.status_code == 200
    # Rate limit: one EVALSHA; the answering deployment's breaker: one MGET; routing: `added`.
    assert sorted(commands) == sorted(["EVALSHA", "MGET", *added]), commands
