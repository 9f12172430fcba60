"""A worker with more requests in flight than pooled Redis connections waits for one; it does not treat the
wait as a Redis outage (which would drop the shared rate limits for per-worker ones)."""

from __future__ import annotations

import threading
import time

from llmgateway.config import RedisConfig
from llmgateway.infra.redis_client import RedisConnector


def test_a_busy_pool_makes_callers_wait_not_fail(redis_url):
    connector = RedisConnector(RedisConfig(url=redis_url, socket_timeout=0.2, max_connections=1, pool_timeout=2.0))
    connector.run(lambda client: client.ping())
    held = connector.pool.get_connection()  # the only connection, busy for longer than the socket timeout
    release = threading.Timer(0.6, connector.pool.release, args=(held,))
    release.start()
    try:
        started = time.monotonic()
        assert connector.run(lambda client: client.set("llmgateway:test:pool", b"1")) is True
        waited = time.monotonic() - started
    finally:
        release.join()
        connector.close()
    assert 0.5 <= waited < 2.0
    assert connector.available  # not marked down: the next requests still use Redis


def test_a_worker_opens_one_redis_pool_for_everything(make_app, redis_url, fake_openai, monkeypatch):
    """Rate limits, breakers, the cache and quotas all go through the worker's one connector and pool."""
    import redis

    from tests.conftest import CHAT, COMPLETION_KEY, auth

    pools: list[redis.ConnectionPool] = []
    plain_init = redis.ConnectionPool.__init__

    def counting_init(self, *args, **kwargs):
        pools.append(self)
        plain_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.ConnectionPool, "__init__", counting_init)
    app = make_app(
        rate_limits={"enabled": True, "default": "100/hour"},
        redis={"url": redis_url},
        limits={"max_tokens": 1000},
        cache={"enabled": True},
    )
    client = app.test_client()
    for body in (CHAT, {**CHAT, "temperature": 0}, {**CHAT, "temperature": 0}):  # a miss, a store, a hit
        assert client.post("/api/v1/completion", json=body, headers=auth(COMPLETION_KEY)).status_code == 200
    assert client.get("/health/ready").json["checks"]["redis"] == "ok"

    assert pools == [app.extensions["llmgateway"].extras["redis"].pool]


def test_redis_marked_down_is_down_for_every_user(make_app, redis_url, fake_openai):
    """One health notion: once the connector marks Redis down, neither the breakers, the cache nor the quotas
    send it anything until the cool-down ends."""
    from tests.conftest import CHAT, COMPLETION_KEY, auth
    from tests.redis_commands import commands_of

    name = "down-for-everyone"  # the gateway's connections carry this name; only theirs are counted
    app = make_app(redis={"url": f"{redis_url}?client_name={name}"}, cache={"enabled": True})
    client = app.test_client()
    body = {**CHAT, "temperature": 0}
    assert client.post("/api/v1/completion", json=body, headers=auth(COMPLETION_KEY)).status_code == 200  # warm
    connector = app.extensions["llmgateway"].extras["redis"]
    connector.mark_down(ConnectionError("as after a timeout"))

    with commands_of(redis_url, name) as commands:
        answer = client.post("/api/v1/completion", json={**body, "max_tokens": 7}, headers=auth(COMPLETION_KEY))
    assert answer.status_code == 200
    assert commands == []
