"""Response cache seam: exact-match answers for deterministic completions and embeddings (SPEC §4 "Cache")."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from llmgateway.core.usage import UsageCall
from llmgateway.providers.types import ChatDelta, ChatStream, Usage

if TYPE_CHECKING:
    from llmgateway.core.pipeline import CompletionInput, EmbeddingInput
    from llmgateway.core.routing import Route

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
KEY_VERSION = 1


class ResponseCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


class NoCache:
    """Caches nothing (cache disabled)."""

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        return None


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
class CachePlan:
    """What the cache may do for one request: `key` is None for a BYPASS."""

    key: str | None = None
    read: bool = False
    write: bool = False


BYPASS_PLAN = CachePlan()


class CachePolicy:
    """Decides cacheability, builds keys (scoped per key owner or global) and talks to the store."""

    def __init__(self, store: ResponseCache | None, scope: str = "owner") -> None:
        self.store = store or NoCache()
        self.enabled = store is not None
        self.scope = scope

    # -- planning -------------------------------------------------------------------------------
    def plan_completion(self, call: UsageCall, route: Route, request: CompletionInput) -> CachePlan:
        """Cacheable when temperature is 0 or `cache: true`; `cache: false` or no-cache only skip the read."""
        if not self.enabled or not (request.cache is True or request.temperature == 0):
            return BYPASS_PLAN
        material = {
            "op": "chat",
            "messages": [[m.role, m.content] for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "top_p": request.top_p,
            "stop": list(request.stop),
            "extra": request.extra,
        }
        skip_read = request.cache is False or request.cache_control.no_cache
        return self._plan(call, route, material, skip_read, request.cache_control.no_store)

    def plan_embedding(self, call: UsageCall, route: Route, request: EmbeddingInput) -> CachePlan:
        """Every embedding is cacheable."""
        if not self.enabled:
            return BYPASS_PLAN
        material = {
            "op": "embed",
            "input": list(request.inputs),
            "dimensions": request.dimensions,
            "input_type": request.input_type,
        }
        directives = request.cache_control
        return self._plan(call, route, material, directives.no_cache, directives.no_store)

    def _plan(
        self, call: UsageCall, route: Route, material: dict[str, Any], skip_read: bool, skip_write: bool
    ) -> CachePlan:
        if skip_read and skip_write:
            return BYPASS_PLAN
        owner = call.principal.owner if call.principal is not None else ""
        material.update(
            v=KEY_VERSION,
            provider=route.provider,
            provider_model=route.provider_model,
            scope=["owner", owner] if self.scope == "owner" else ["global"],
        )
        digest = hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return CachePlan(key=f"{material['op']}:{digest}", read=not skip_read, write=not skip_write)

    # -- store ----------------------------------------------------------------------------------
    def lookup(self, call: UsageCall, plan: CachePlan) -> dict[str, Any] | None:
        """The cached entry on a hit (marks the call HIT), else None (MISS, or BYPASS)."""
        if plan.key is None:
            call.cache_status = BYPASS
            return None
        call.cache_status = MISS
        entry = self.store.get(plan.key) if plan.read else None
        if entry is not None:
            call.cache_status = HIT
            call.cached = True
        return entry

    def save(self, call: UsageCall, plan: CachePlan, entry: dict[str, Any]) -> None:
        """Store a fresh answer (never one a fallback model gave, never a replayed hit)."""
        if plan.key is not None and plan.write and not call.cached and call.fallback_from is None:
            self.store.put(plan.key, entry)


# -- entries ------------------------------------------------------------------------------------
_USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")


def usage_entry(usage: Usage) -> dict[str, Any]:
    entry: dict[str, Any] = {name: getattr(usage, name) for name in _USAGE_COUNTS}
    entry["estimated"] = usage.estimated
    return entry


def usage_from_entry(entry: dict[str, Any]) -> Usage:
    """The usage an entry was stored with (entries from before the detail counts read 0 for them)."""
    usage = entry.get("usage") or {}
    counts = {name: int(usage.get(name, 0)) for name in _USAGE_COUNTS}
    return Usage(**counts, estimated=bool(usage.get("estimated", False)))


def completion_entry(content: str | None, finish_reason: str | None, usage: Usage) -> dict[str, Any]:
    return {"content": content, "finish_reason": finish_reason, "usage": usage_entry(usage)}


def embedding_entry(vectors: Sequence[Sequence[float]], usage: Usage) -> dict[str, Any]:
    return {"vectors": [list(v) for v in vectors], "usage": usage_entry(usage)}


def replay_stream(entry: dict[str, Any]) -> ChatStream:
    """A cached answer as an upstream stream: role, the whole content, the finish reason, then usage."""
    deltas = [ChatDelta(role="assistant", content="")]
    if entry.get("content"):
        deltas.append(ChatDelta(content=entry["content"]))
    deltas.append(ChatDelta(finish_reason=entry.get("finish_reason") or "stop"))
    stream = ChatStream(iter(deltas))
    stream.usage = usage_from_entry(entry)
    return stream
