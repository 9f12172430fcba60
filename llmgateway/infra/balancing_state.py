"""The numbers behind load balancing: in-flight counts, cooldowns and moving averages per deployment.

`MemoryBalancingState` keeps them per worker (the embedded default). `RedisBalancingState` shares them fleet-wide:
each worker publishes its own entry per deployment (in flight, averages, counters, an expiry) into one Redis hash
per deployment, and readers add up the live entries. An entry lives `entry_ttl` seconds unless its worker
refreshes it (a heartbeat every `sync_interval`), so a worker killed with -9 stops counting within `entry_ttl`:
counts expire, they never leak. Publishing is write-behind (a background thread), so a request adds at most one
round trip: the one-script read that `least_busy` asks for, which also publishes this worker's entry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llmgateway.core.balancing import DeploymentLoad, DeploymentStats
from llmgateway.infra.redis_client import RedisConnector, RedisUnavailable

log = logging.getLogger(__name__)

EWMA_ALPHA = 0.2  # weight of the newest sample in the moving averages

#: KEYS: load hash and cooldown key per deployment, in pairs. ARGV: worker id, now (ms), entry TTL (ms), then one
#: entry per deployment ("" to leave this worker's entry alone). Publishes this worker's entries, drops expired
#: ones, and answers per deployment: other live workers' in-flight sum and the cooldown end (ms, 0 if none).
SYNC_SCRIPT = """
local worker, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS / 2 do
  local load, cool = KEYS[2 * i - 1], KEYS[2 * i]
  local own = ARGV[3 + i]
  if own ~= "" then
    redis.call("HSET", load, worker, own)
    redis.call("PEXPIRE", load, ttl * 4)
  end
  local others = 0
  local fields = redis.call("HGETALL", load)
  for j = 1, #fields, 2 do
    local field, value = fields[j], fields[j + 1]
    local count, expires = string.match(value, "^(%-?%d+) (%d+)")
    if expires == nil or tonumber(expires) <= now then
      redis.call("HDEL", load, field)
    elseif field ~= worker then
      others = others + tonumber(count)
    end
  end
  out[2 * i - 1] = others
  out[2 * i] = tonumber(redis.call("GET", cool) or "0")
end
return out
"""


@dataclass(slots=True)
class LocalStats:
    """This worker's numbers for one deployment."""

    in_flight: int = 0
    latency_ms: float | None = None  # moving average of plain calls' latency and streams' time to first byte
    error_rate: float = 0.0  # moving average of failures (0..1)
    requests: int = 0
    errors: int = 0
    cooldown_until: float = 0.0
    dirty: bool = True

    def observe(self, seconds: float | None, failed: bool) -> None:
        self.requests += 1
        self.errors += failed
        self.error_rate += EWMA_ALPHA * ((1.0 if failed else 0.0) - self.error_rate)
        if seconds is not None and not failed:
            sample = seconds * 1000.0
            self.latency_ms = (
                sample if self.latency_ms is None else self.latency_ms + EWMA_ALPHA * (sample - self.latency_ms)
            )
        self.dirty = True

    def entry(self, expires_ms: int) -> str:
        """This worker's published entry: in flight, expiry, latency, error rate, requests, errors."""
        latency = "-" if self.latency_ms is None else f"{self.latency_ms:.2f}"
        return f"{self.in_flight} {expires_ms} {latency} {self.error_rate:.4f} {self.requests} {self.errors}"


class MemoryBalancingState:
    """Per-worker balancing state (no Redis)."""

    def __init__(self) -> None:
        self._stats: dict[str, LocalStats] = {}
        self._lock = threading.Lock()

    def local(self, key: str) -> LocalStats:
        stats = self._stats.get(key)
        if stats is None:
            with self._lock:
                stats = self._stats.setdefault(key, LocalStats())
        return stats

    def loads(self, keys: Sequence[str], *, fresh: bool) -> dict[str, DeploymentLoad]:
        out = {}
        for key in keys:
            stats = self.local(key)
            out[key] = DeploymentLoad(stats.in_flight, stats.cooldown_until, stats.latency_ms)
        return out

    def begin(self, key: str) -> None:
        stats = self.local(key)
        with self._lock:
            stats.in_flight += 1
            stats.dirty = True

    def end(self, key: str, *, seconds: float | None, failed: bool, first_byte: bool = False) -> None:
        stats = self.local(key)
        with self._lock:
            stats.in_flight = max(0, stats.in_flight - 1)
            stats.observe(seconds, failed)

    def observe(self, key: str, *, seconds: float | None, failed: bool) -> None:
        """A response time (or failure) of a call still in flight: a stream's first byte."""
        stats = self.local(key)
        with self._lock:
            stats.observe(seconds, failed)

    def cool_down(self, key: str, seconds: float) -> None:
        stats = self.local(key)
        with self._lock:
            stats.cooldown_until = max(stats.cooldown_until, time.time() + seconds)
            stats.dirty = True

    def stats(self, keys: Iterable[str]) -> dict[str, DeploymentStats]:
        out = {}
        for key in keys:
            s = self.local(key)
            out[key] = DeploymentStats(s.in_flight, s.latency_ms, s.error_rate, s.requests, s.errors, s.cooldown_until)
        return out

    def close(self) -> None:
        pass


class RedisBalancingState(MemoryBalancingState):
    """Balancing state shared through Redis; this worker's own numbers stay exact in memory and are published
    write-behind. While Redis is unreachable it answers from memory (this worker's view)."""

    def __init__(
        self, redis: RedisConnector, *, entry_ttl: float = 5.0, sync_interval: float = 0.25, heartbeat: float = 1.0
    ) -> None:
        super().__init__()
        self._redis = redis
        self._prefix = f"{redis.prefix}dep:"
        self._entry_ttl_ms = int(entry_ttl * 1000)
        self._sync_interval = sync_interval
        self._heartbeat = min(heartbeat, entry_ttl / 3)
        self._others: dict[str, int] = {}  # other workers' in-flight sums, as of the last read
        self._cooldowns: dict[str, float] = {}  # fleet cooldowns (time.time()), as of the last read
        self._script: Any = None
        self._pid = -1
        self._worker = ""
        self._last_beat = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the BalancingState protocol ---------------------------------------------------------------
    def loads(self, keys: Sequence[str], *, fresh: bool) -> dict[str, DeploymentLoad]:
        self._ensure_worker()
        if fresh:
            self._sync(keys, publish_all=False)
        out = {}
        for key in keys:
            stats = self.local(key)
            cooldown = max(stats.cooldown_until, self._cooldowns.get(key, 0.0))
            out[key] = DeploymentLoad(stats.in_flight + self._others.get(key, 0), cooldown, stats.latency_ms)
        return out

    def begin(self, key: str) -> None:
        self._ensure_worker()
        super().begin(key)

    def cool_down(self, key: str, seconds: float) -> None:
        super().cool_down(key, seconds)
        until_ms = int((time.time() + seconds) * 1000)
        try:  # rare (a 429 with Retry-After): written at once so other workers skip the deployment too
            self._redis.run(lambda c: c.set(self._prefix + "cool:" + key, until_ms, px=max(1, int(seconds * 1000))))
        except RedisUnavailable:
            pass

    def stats(self, keys: Iterable[str]) -> dict[str, DeploymentStats]:
        """Fleet-wide numbers: every live worker's entry added up (this worker's from memory)."""
        self._ensure_worker()
        keys = list(keys)
        local = super().stats(keys)
        try:
            entries = self._redis.run(lambda c: self._read_entries(c, keys))
        except RedisUnavailable:
            return local
        now_ms = int(time.time() * 1000)
        out = {}
        for key, (fields, cool) in zip(keys, entries, strict=True):
            parts = [local[key]]
            for field, value in fields.items():
                if field.decode() != self._worker:
                    parsed = _parse_entry(value.decode(), now_ms)
                    if parsed is not None:
                        parts.append(parsed)
            cooldown = max(local[key].cooldown_until, int(cool or 0) / 1000.0)
            out[key] = _combine(parts, cooldown)
        return out

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._pid == os.getpid():
            self._sync(list(self._stats), publish_all=True, expire_now=True)

    # -- plumbing ----------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        """A new identity and a sync thread in each process (after a fork the parent's are not ours)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._worker = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"
            self._stats = {}
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sync_loop, name="balancing-sync", daemon=True)
            self._thread.start()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self._sync_interval):
            keys = list(self._stats)
            beat = time.monotonic() - self._last_beat >= self._heartbeat
            if keys and (beat or any(self._stats[k].dirty for k in keys)):
                self._sync(keys, publish_all=beat)

    def _sync(self, keys: Sequence[str], *, publish_all: bool, expire_now: bool = False) -> None:
        """One script call: publish this worker's entries (changed ones, or all on a heartbeat), read the rest."""
        now = time.time()
        now_ms = int(now * 1000)
        expires_ms = now_ms if expire_now else now_ms + self._entry_ttl_ms
        redis_keys: list[str] = []
        entries: list[str] = []
        for key in keys:
            stats = self.local(key)
            redis_keys += [self._prefix + "load:" + key, self._prefix + "cool:" + key]
            publish = publish_all or stats.dirty
            stats.dirty = stats.dirty and not publish
            entries.append(stats.entry(expires_ms) if publish else "")
        if publish_all:
            self._last_beat = time.monotonic()
        args = [self._worker, now_ms, self._entry_ttl_ms, *entries]
        try:
            answer = self._redis.run(lambda c: self._sync_script(c)(keys=redis_keys, args=args))
        except RedisUnavailable:
            for key in keys:
                self.local(key).dirty = True
            return
        for index, key in enumerate(keys):
            self._others[key] = int(answer[2 * index])
            self._cooldowns[key] = int(answer[2 * index + 1]) / 1000.0

    def _sync_script(self, client: Any) -> Any:
        if self._script is None:
            self._script = client.register_script(SYNC_SCRIPT)
        return self._script

    def _read_entries(self, client: Any, keys: Sequence[str]) -> list[tuple[dict[bytes, bytes], Any]]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._prefix + "load:" + key)
            pipe.get(self._prefix + "cool:" + key)
        raw = pipe.execute()
        return [(raw[2 * i], raw[2 * i + 1]) for i in range(len(keys))]


def _parse_entry(value: str, now_ms: int) -> DeploymentStats | None:
    """Another worker's published entry, or None when it expired or cannot be read."""
    try:
        count, expires, latency, error_rate, requests, errors = value.split(" ")
        if int(expires) <= now_ms:
            return None
        return DeploymentStats(
            int(count), None if latency == "-" else float(latency), float(error_rate), int(requests), int(errors), 0.0
        )
    except ValueError:
        return None


def _combine(parts: list[DeploymentStats], cooldown_until: float) -> DeploymentStats:
    """Workers' numbers added up; averages weighted by how many requests each worker saw."""
    requests = sum(p.requests for p in parts)
    timed = [p for p in parts if p.latency_ms is not None]
    weight = sum(max(p.requests, 1) for p in timed)
    latency = sum((p.latency_ms or 0.0) * max(p.requests, 1) for p in timed) / weight if timed else None
    error_rate = sum(p.error_rate * p.requests for p in parts) / requests if requests else 0.0
    return DeploymentStats(
        sum(p.in_flight for p in parts), latency, error_rate, requests, sum(p.errors for p in parts), cooldown_until
    )
