"""Console sessions signed out before their token expired: fleet-wide in Redis when configured, else per process."""

from __future__ import annotations

import threading
import time

from llmgateway.infra.redis_client import RedisConnector, RedisUnavailable


class SignedOutSessions:
    """A deny-list of session ids, each kept until its token would have expired anyway."""

    def __init__(self, redis: RedisConnector | None) -> None:
        self._redis = redis
        self._local: dict[str, int] = {}
        self._lock = threading.Lock()

    def _key(self, session_id: str) -> str:
        return f"{self._redis.prefix if self._redis else ''}console:signed-out:{session_id}"

    def add(self, session_id: str, expires_at: int) -> None:
        now = int(time.time())
        with self._lock:
            self._local = {sid: exp for sid, exp in self._local.items() if exp > now}
            self._local[session_id] = expires_at
        if self._redis is not None and expires_at > now:
            try:
                self._redis.run(lambda client: client.set(self._key(session_id), b"1", exat=expires_at))
            except RedisUnavailable:
                pass  # this worker still refuses it; others accept it until it expires (at most the session's TTL)

    def contains(self, session_id: str) -> bool:
        with self._lock:
            if session_id in self._local:
                return True
        if self._redis is None:
            return False
        try:
            return bool(self._redis.run(lambda client: client.exists(self._key(session_id))))
        except RedisUnavailable:
            return False  # Redis down: the console keeps working; a signed-out token lives at most until it expires
