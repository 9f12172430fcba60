"""The response cache: exact-match answers for deterministic completions and embeddings (SPEC §4 "Cache").

The key is derived from every field of the neutral request (`ChatRequest`, `EmbeddingRequest`) except those
marked NOT_IN_CACHE_KEY, so a field added to the request is part of the key without anyone listing it here.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from llmgateway.core.options import CallOptions
from llmgateway.core.routing import Route
from llmgateway.core.usage import UsageCall
from llmgateway.providers.chat_types import ToolCall, deltas_of
from llmgateway.providers.types import ChatDelta, ChatRequest, ChatStream, EmbeddingRequest, Usage

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
KEY_VERSION = 2


class CacheStore(Protocol):
    """Where entries live (Redis or in-process; see infra/response_store.py)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


class NoStore:
    """Stores nothing (cache disabled)."""

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What the cache may do for one request: `key` is None for a BYPASS."""

    key: str | None = None
    read: bool = False
    write: bool = False


BYPASS_PLAN = CachePlan()


def key_material(request: ChatRequest | EmbeddingRequest) -> dict[str, Any]:
    """Every field that can change the answer; `model` is left to the route (the provider's model id)."""
    return {
        f.name: getattr(request, f.name)
        for f in dataclasses.fields(request)
        if f.metadata.get("cache_key", True) and f.name != "model"
    }


class ResponseCache:
    """Decides cacheability, derives keys (scoped per key owner or global) and talks to the store."""

    def __init__(self, store: CacheStore | None, scope: str = "owner") -> None:
        self.store: CacheStore = store or NoStore()
        self.enabled = store is not None
        self.scope = scope

    # -- planning -------------------------------------------------------------------------------
    def plan_completion(self, call: UsageCall, route: Route, request: ChatRequest, options: CallOptions) -> CachePlan:
        """Cacheable when temperature is 0 or `cache: true`; `cache: false` or no-cache only skip the read."""
        if not self.enabled or not (options.cache is True or request.temperature == 0):
            return BYPASS_PLAN
        if request.extra.get("n", 1) != 1 or request.extra.get("logprobs"):
            return BYPASS_PLAN  # several choices or logprobs: entries keep one choice's text and tool calls
        skip_read = options.cache is False or options.cache_control.no_cache
        return self._plan(call, route, "chat", request, skip_read, options.cache_control.no_store)

    def plan_embedding(
        self, call: UsageCall, route: Route, request: EmbeddingRequest, options: CallOptions
    ) -> CachePlan:
        """Every embedding is cacheable."""
        if not self.enabled:
            return BYPASS_PLAN
        directives = options.cache_control
        return self._plan(call, route, "embed", request, directives.no_cache, directives.no_store)

    def _plan(
        self,
        call: UsageCall,
        route: Route,
        op: str,
        request: ChatRequest | EmbeddingRequest,
        skip_read: bool,
        skip_write: bool,
    ) -> CachePlan:
        if skip_read and skip_write:
            return BYPASS_PLAN
        owner = call.principal.owner if call.principal is not None else ""
        material = {
            "v": KEY_VERSION,
            "op": op,
            "request": key_material(request),
            "provider": route.provider,
            "provider_model": route.provider_model,
            "scope": ["owner", owner] if self.scope == "owner" else ["global"],
        }
        digest = hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return CachePlan(key=f"{op}:{digest}", read=not skip_read, write=not skip_write)

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
_USAGE_COUNTS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cache_write_1h_tokens",
)


def usage_entry(usage: Usage) -> dict[str, Any]:
    entry: dict[str, Any] = {name: getattr(usage, name) for name in _USAGE_COUNTS}
    entry["estimated"] = usage.estimated
    return entry


def usage_from_entry(entry: dict[str, Any]) -> Usage:
    """The usage an entry was stored with (entries from before the detail counts read 0 for them)."""
    usage = entry.get("usage") or {}
    counts: dict[str, Any] = {name: int(usage.get(name, 0)) for name in _USAGE_COUNTS}
    return Usage(**counts, estimated=bool(usage.get("estimated", False)))


def completion_entry(
    content: str | None, finish_reason: str | None, usage: Usage, tool_calls: tuple[ToolCall, ...] = ()
) -> dict[str, Any]:
    entry: dict[str, Any] = {"content": content, "finish_reason": finish_reason, "usage": usage_entry(usage)}
    if tool_calls:
        entry["tool_calls"] = [[call.id, call.name, call.arguments] for call in tool_calls]
    return entry


def tool_calls_from_entry(entry: dict[str, Any]) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(*item) for item in entry.get("tool_calls") or ())


def embedding_entry(vectors: Sequence[Sequence[float]], usage: Usage) -> dict[str, Any]:
    return {"vectors": [list(v) for v in vectors], "usage": usage_entry(usage)}


def replay_stream(entry: dict[str, Any]) -> ChatStream:
    """A cached answer as an upstream stream: role, the whole content, each tool call whole, the finish reason,
    then usage."""
    deltas = [ChatDelta(role="assistant", content="")]
    if entry.get("content"):
        deltas.append(ChatDelta(content=entry["content"]))
    deltas.extend(ChatDelta(tool_calls=(delta,)) for delta in deltas_of(tool_calls_from_entry(entry)))
    deltas.append(ChatDelta(finish_reason=entry.get("finish_reason") or "stop"))
    stream = ChatStream(iter(deltas))
    stream.usage = usage_from_entry(entry)
    return stream
