"""What a caller asks of the gateway itself, beside the model request: caching and ledger metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CacheDirectives:
    """The client's Cache-Control request directives that concern the gateway (set by the HTTP layer)."""

    no_cache: bool = False  # answer from the provider, but the answer may still be stored
    no_store: bool = False  # may be answered from the cache, but is never stored

    @classmethod
    def parse(cls, header: str | None) -> CacheDirectives:
        tokens = {part.split("=", 1)[0].strip().lower() for part in (header or "").split(",")}
        return cls(no_cache="no-cache" in tokens, no_store="no-store" in tokens)


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Gateway-only options of one request; never sent upstream and never part of the cache key."""

    cache: bool | None = None  # the body's `cache` flag: true opts in, false skips the read
    metadata: dict[str, Any] | None = None  # stored on the usage record
    cache_control: CacheDirectives = field(default_factory=CacheDirectives)  # from the HTTP Cache-Control header
