"""limits' Redis storage, one round trip per limited request: a hit also returns the window it leaves, which
answers Flask-Limiter's header read (X-RateLimit-Remaining/Reset) that would otherwise be a second trip."""

from __future__ import annotations

import threading
import time
from typing import Any

from limits.storage import RedisStorage

#: Registered with limits; the URI only selects this class (the connection pool is passed in).
SCHEME = "llmgateway+redis"
#: How long a window seen by a hit may answer the same greenlet's header read for that limit.
MEMO_SECONDS = 300.0

# The stock acquire_sliding_window.lua, returning {acquired, previous count, previous ttl ms, current count,
# current ttl ms} as the window stands after the attempt (what sliding_window.lua would read next).
ACQUIRE_SLIDING_WINDOW = """
local limit = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2]) * 1000
local amount = tonumber(ARGV[3])

local current_ttl = tonumber(redis.call('pttl', KEYS[2]))
if current_ttl > 0 and current_ttl < expiry then
    redis.call('rename', KEYS[2], KEYS[1])
    redis.call('set', KEYS[2], 0, 'PX', current_ttl + expiry)
end

local previous_count = tonumber(redis.call('get', KEYS[1])) or 0
local previous_ttl = tonumber(redis.call('pttl', KEYS[1])) or 0
local current_count = tonumber(redis.call('get', KEYS[2])) or 0
current_ttl = tonumber(redis.call('pttl', KEYS[2])) or 0
if previous_ttl <= 0 then previous_ttl = 0 end
if current_ttl <= 0 then current_ttl = 0 end

local acquired = 0
local weighted_count = math.floor(previous_count * previous_ttl / expiry) + current_count
if amount <= limit and weighted_count + amount <= limit then
    if redis.call('exists', KEYS[2]) == 1 then
        current_count = redis.call('incrby', KEYS[2], amount)
    else
        redis.call('set', KEYS[2], amount, 'PX', expiry * 2)
        current_count = amount
        current_ttl = expiry * 2
    end
    acquired = 1
end
return {acquired, previous_count, previous_ttl, current_count, current_ttl}
"""

# The stock incr_expire.lua, also returning the key's remaining lifetime in ms.
INCR_EXPIRE = """
local amount = tonumber(ARGV[2])
local current = redis.call('incrby', KEYS[1], amount)
if tonumber(current) == amount then
    redis.call('expire', KEYS[1], ARGV[1])
end
return {current, redis.call('pttl', KEYS[1])}
"""

SlidingWindow = tuple[int, float, int, float]


class OneTripRedisStorage(RedisStorage):
    """RedisStorage whose sliding- and fixed-window hits remember, per greenlet (or thread), the window they saw.

    Flask-Limiter hits the limit before the view and reads the window for the headers after it; the read is
    answered from that memory, so it reflects the window at admission. Anything else (the limits CLI, a read
    without a hit in the same request) goes to Redis as before. The moving-window strategy is left as limits
    implements it (two round trips).
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri, **options)
        self._seen = threading.local()  # greenlet-local once gevent has patched threading

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_acquire_sliding_window_read = self.get_connection().register_script(ACQUIRE_SLIDING_WINDOW.encode())
        self.lua_incr_expire_read = self.get_connection().register_script(INCR_EXPIRE.encode())

    # -- sliding window counter (the default strategy) -------------------------------------------
    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        previous_key = self.prefixed_key(self._previous_window_key(key))
        current_key = self.prefixed_key(self._current_window_key(key))
        acquired, previous_count, previous_ttl, current_count, current_ttl = self.lua_acquire_sliding_window_read(
            [previous_key, current_key], [limit, expiry, amount]
        )
        window: SlidingWindow = (
            int(previous_count),
            max(0.0, float(previous_ttl)) / 1000,
            int(current_count),
            max(0.0, float(current_ttl)) / 1000,
        )
        self._remember(("sliding", key, expiry), window)
        return bool(acquired)

    def get_sliding_window(self, key: str, expiry: int) -> SlidingWindow:
        window = self._recall(("sliding", key, expiry))
        return window if window is not None else super().get_sliding_window(key, expiry)

    # -- fixed window ----------------------------------------------------------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, ttl_ms = self.lua_incr_expire_read([self.prefixed_key(key)], [expiry, amount])
        self._remember(("fixed", key), (int(count), time.time() + max(0, int(ttl_ms)) / 1000))
        return int(count)

    def get(self, key: str) -> int:
        seen = self._recall(("fixed", key), consume=False)
        return seen[0] if seen is not None else super().get(key)

    def get_expiry(self, key: str) -> float:
        seen = self._recall(("fixed", key))
        return seen[1] if seen is not None else super().get_expiry(key)

    # -- the per-greenlet memory -----------------------------------------------------------------
    def forget(self) -> None:
        """Drop what this greenlet remembers (called as each request starts, so memory never spans two)."""
        self._seen.entry = None

    def _remember(self, slot: tuple[Any, ...], value: Any) -> None:
        self._seen.entry = (slot, time.monotonic(), value)

    def _recall(self, slot: tuple[Any, ...], *, consume: bool = True) -> Any:
        entry = getattr(self._seen, "entry", None)
        if entry is None or entry[0] != slot or time.monotonic() - entry[1] > MEMO_SECONDS:
            return None
        if consume:
            self._seen.entry = None
        return entry[2]
