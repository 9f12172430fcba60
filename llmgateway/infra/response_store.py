"""Response cache stores: zlib-compressed JSON in Redis (never pickle), or an in-process SimpleCache."""

from __future__ import annotations

import logging
import zlib
from typing import Any

import orjson
from flask_caching.backends import SimpleCache

from llmgateway.infra.redis_client import RedisConnector, RedisUnavailable

log = logging.getLogger(__name__)


class EntryCodec:
    """JSON bytes, zlib-compressed; entries whose JSON exceeds `max_bytes` are neither stored nor loaded."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def encode(self, value: dict[str, Any]) -> bytes | None:
        raw = orjson.dumps(value)
        if len(raw) > self.max_bytes:
            return None
        return zlib.compress(raw, 6)

    def decode(self, blob: bytes) -> dict[str, Any] | None:
        """The entry, or None for anything malformed or oversized (a planted zlib bomb is cut off)."""
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(blob, self.max_bytes + 1)
            if len(raw) > self.max_bytes or inflater.unconsumed_tail:
                return None
            value = orjson.loads(raw)
        except (zlib.error, orjson.JSONDecodeError):
            return None
        return value if isinstance(value, dict) else None


class RedisResponseStore:
    """Shared by every worker and instance; a Redis failure is a miss (reads) or a skipped write."""

    def __init__(self, redis: RedisConnector, *, ttl: int, max_entry_bytes: int) -> None:
        self._redis = redis
        self._ttl = ttl
        self._codec = EntryCodec(max_entry_bytes)
        self._prefix = f"{redis.prefix}cache:"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            blob = self._redis.run(lambda r: r.get(self._prefix + key))
        except RedisUnavailable:
            return None
        return self._codec.decode(blob) if isinstance(blob, bytes) and blob else None  # a bytes (non-decoding) client

    def put(self, key: str, value: dict[str, Any]) -> None:
        blob = self._codec.encode(value)
        if blob is None:
            return
        try:
            self._redis.run(lambda r: r.set(self._prefix + key, blob, ex=self._ttl))
        except RedisUnavailable:
            return


class MemoryResponseStore:
    """Per-process store for the embedded default (flask-caching's SimpleCache, bounded in entries)."""

    def __init__(self, *, ttl: int, max_entry_bytes: int, max_entries: int = 2000) -> None:
        self._cache = SimpleCache(threshold=max_entries, default_timeout=ttl)
        self._codec = EntryCodec(max_entry_bytes)

    def get(self, key: str) -> dict[str, Any] | None:
        blob = self._cache.get(key)
        return self._codec.decode(blob) if blob else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        blob = self._codec.encode(value)
        if blob is not None:
            self._cache.set(key, blob)
