"""The worker's one Redis client: one pool and one notion of "Redis is down" for every user of Redis."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from llmgateway.config import RedisConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

#: After a Redis error, callers skip Redis for this long (seconds) instead of each waiting for a timeout.
COOL_DOWN = 1.0


class RedisUnavailable(redis.ConnectionError):
    """Redis is down, frozen or cooling down after a failure: callers use their in-process fallback.

    A redis ConnectionError, so code written against redis-py (pybreaker's storage) treats it as one.
    """


class RedisConnector:
    """A lazily created `BlockingConnectionPool` shared by the cache, the quotas, the breakers and the limiter.

    Every operation is bounded by the socket timeout (~200 ms); after a failure the connector refuses
    work for `cool_down` seconds so a frozen Redis costs one timeout per second per worker, not one per
    request. The next attempt after the cool-down is the recovery probe.
    """

    def __init__(self, config: RedisConfig, *, cool_down: float = COOL_DOWN) -> None:
        if not config.url:
            raise ValueError("RedisConnector needs redis.url")
        self.url = config.url
        self.prefix = config.instance_name
        self._timeout = config.socket_timeout
        self._max_connections = config.max_connections
        self._pool_timeout = config.pool_timeout
        self._cool_down = cool_down
        self._down_until = 0.0
        self._pool: redis.BlockingConnectionPool | None = None
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> redis.BlockingConnectionPool:
        """The worker's pool; creating it opens no connection (redis-py reconnects after a fork)."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = redis.BlockingConnectionPool.from_url(
                        self.url,
                        max_connections=self._max_connections,
                        # A saturated worker can hold every connection for a while (each holder waits for
                        # the CPU): that is contention, so it waits longer than for Redis itself.
                        timeout=self._pool_timeout,
                        socket_timeout=self._timeout,
                        socket_connect_timeout=self._timeout,
                        health_check_interval=30,
                        retry=Retry(NoBackoff(), 0),  # a failure is reported at once; the cool-down spaces retries
                    )
        return self._pool

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis(connection_pool=self.pool)
        return self._client

    @property
    def longest_wait(self) -> float:
        """The longest one operation can take: waiting for a pooled connection, then for Redis."""
        return self._pool_timeout + self._timeout

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def run(self, operation: Callable[[redis.Redis], T]) -> T:
        """Run one Redis operation, or raise RedisUnavailable (now, or after at most the socket timeout)."""
        if not self.available:
            raise RedisUnavailable("cooling down after a Redis failure")
        try:
            return operation(self.client)
        except (redis.RedisError, OSError) as exc:
            self.mark_down(exc)
            raise RedisUnavailable(str(exc)) from exc

    def mark_down(self, exc: BaseException) -> None:
        if self.available:
            log.warning("redis unavailable, serving in degraded mode: %s", type(exc).__name__)
        self._down_until = time.monotonic() + self._cool_down

    def health(self) -> str:
        """'ok' when Redis answers a PING within the timeout, else 'down' (readiness reports `degraded`)."""
        try:
            self.client.ping()
        except (redis.RedisError, OSError):
            return "down"
        self._down_until = 0.0
        return "ok"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.disconnect()
