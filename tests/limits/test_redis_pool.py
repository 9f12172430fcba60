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
