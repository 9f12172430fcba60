"""Provider-neutral request and response values passed between the pipeline and the provider modules."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

from llmgateway.providers.chat_types import (
    ContentPart,
    ImagePart,
    ResponseFormat,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
)

log = logging.getLogger(__name__)

#: The largest token count the ledger stores (a 32-bit integer column); anything above is an upstream bug.
MAX_TOKEN_COUNT = 2**31 - 1
#: Counts that are a part of another (a cached prompt token is also a prompt token): never more than the whole.
PART_OF = {
    "cached_tokens": "prompt_tokens",
    "cache_read_tokens": "prompt_tokens",
    "cache_write_tokens": "prompt_tokens",
    "reasoning_tokens": "completion_tokens",
    "cache_write_1h_tokens": "cache_write_tokens",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message: system, user, assistant or tool.

    `content` is the message's text (text parts joined); `parts` is its full, ordered content when it holds
    more than text (images). An assistant message may carry `tool_calls`; a tool message answers the call
    named by `tool_call_id`.
    """

    role: str
    content: str
    parts: tuple[ContentPart, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(part for part in self.parts if isinstance(part, ImagePart))


#: Field metadata for request fields that do not change the answer, and so stay out of the cache key.
NOT_IN_CACHE_KEY = {"cache_key": False}


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A served API's own request body, for a provider that speaks that same API (`api`, e.g. "anthropic.messages").

    That provider sends `body` as is (with its own `model` and `stream`) plus `headers`, and reports the raw answer
    (`ChatResponse.native`, `ChatDelta.native`) beside the neutral one, so blocks the neutral model cannot carry
    (thinking and its signature, `cache_control`, server tools) survive; every other provider ignores it.
    """

    api: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The one neutral chat request: every surface builds it, the cache keys it, every provider translates it.

    `model` is the gateway model id the client asked for; the pipeline hands each provider a copy routed to
    that provider's model id (`routed`). Every field is part of the cache key unless marked NOT_IN_CACHE_KEY.
    """

    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    user: str | None = field(default=None, metadata=NOT_IN_CACHE_KEY)
    request_id: str | None = field(default=None, metadata=NOT_IN_CACHE_KEY)  # propagated upstream for tracing
    # OpenAI-compatible fields passed through untouched to OpenAI-compatible upstreams (issue 7).
    extra: dict[str, Any] = field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    native: NativeRequest | None = None

    def image_places(self) -> list[tuple[str, ImagePart]]:
        """Every image with its place in the request (`messages.2.content.1`), for error messages."""
        return [
            (f"messages.{i}.content.{j}", part)
            for i, message in enumerate(self.messages)
            for j, part in enumerate(message.parts)
            if isinstance(part, ImagePart)
        ]

    def routed(self, provider_model: str, request_id: str) -> ChatRequest:
        """This request as sent to one provider model."""
        return replace(self, model=provider_model, request_id=request_id)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one call; `estimated` when the provider did not report them (or not all of them).

    `prompt_tokens` is the provider's whole prompt count (for Anthropic input + cache writes + cache reads);
    `cached_tokens` (read from the provider's prompt cache) and `cache_write_tokens` (written to it) are parts
    of it, `reasoning_tokens` is part of `completion_tokens`. `cost_usd` is set once the gateway priced the call.

    Counts are bounded on construction (the provider boundary): a negative, non-integer or absurd count (over
    MAX_TOKEN_COUNT, or a part larger than its whole) is replaced by the nearest sane value and `clamped` is set,
    so one wrong upstream answer is recorded, flagged and logged instead of being refused by the database.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    #: The part of `cache_write_tokens` written with Anthropic's one-hour TTL (priced higher); not a ledger column.
    cache_write_1h_tokens: int = 0
    clamped: bool = False

    def __post_init__(self) -> None:
        problems = bound_counts(self)
        if problems:
            object.__setattr__(self, "clamped", True)
            log.warning("upstream token counts out of bounds, recorded clamped and flagged: %s", "; ".join(problems))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uncached_prompt_tokens(self) -> int:
        """Prompt tokens billed at the plain input price (Anthropic's `input_tokens`)."""
        return max(self.prompt_tokens - self.cached_tokens - self.cache_write_tokens, 0)

    def priced(self, cost_usd: float) -> Usage:
        return replace(self, cost_usd=cost_usd)

    def as_dict(self) -> dict[str, Any]:
        """OpenAI's `usage` shape plus the gateway's `cost_usd` (and `estimated` when counted by the gateway)."""
        prompt_details: dict[str, int] = {
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }
        if self.cache_write_tokens:
            prompt_details["cache_creation_tokens"] = self.cache_write_tokens  # the name SPEC §11 documents
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }
        if self.cost_usd is not None:
            out["cost_usd"] = self.cost_usd
        if self.estimated:
            out["estimated"] = True
        return out


#: Usage's integer counts, and the (part, whole) pairs among them: read once, not per Usage built.
_COUNTS = tuple(f.name for f in fields(Usage) if f.type in ("int", int))
_PARTS = tuple((part, whole) for part, whole in PART_OF.items() if part in _COUNTS and whole in _COUNTS)
_HAS_CACHE_PARTS = {"cached_tokens", "cache_write_tokens"} <= set(_COUNTS)


def bound_counts(usage: Usage) -> list[str]:
    """Clamp every integer count of `usage` in place (frozen: via object.__setattr__); returns what was wrong."""
    problems: list[str] = []
    for name in _COUNTS:
        raw = getattr(usage, name)
        if type(raw) is int and 0 <= raw <= MAX_TOKEN_COUNT:  # the usual case: nothing to check further
            continue
        value, problem = _bounded(raw)
        if problem:
            problems.append(f"{name}={raw!r} ({problem})")
        if problem or type(raw) is not int:  # a bool or an integral float becomes a plain int
            object.__setattr__(usage, name, value)
    for part, whole in _PARTS:
        if getattr(usage, part) > getattr(usage, whole):
            problems.append(f"{part}={getattr(usage, part)} > {whole}={getattr(usage, whole)}")
            object.__setattr__(usage, part, getattr(usage, whole))
    if _HAS_CACHE_PARTS and (usage.cached_tokens + usage.cache_write_tokens > usage.prompt_tokens):
        problems.append("cache reads and writes over prompt_tokens")
        object.__setattr__(usage, "cache_write_tokens", usage.prompt_tokens - usage.cached_tokens)
    if usage.prompt_tokens + usage.completion_tokens > MAX_TOKEN_COUNT:  # the total is stored too
        problems.append(f"total {usage.prompt_tokens + usage.completion_tokens} over {MAX_TOKEN_COUNT}")
        object.__setattr__(usage, "completion_tokens", MAX_TOKEN_COUNT - usage.prompt_tokens)
    return problems


def _bounded(raw: Any) -> tuple[int, str | None]:
    """A count in [0, MAX_TOKEN_COUNT] and what was wrong with `raw` (None when nothing)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value, problem = raw, None
    else:
        try:
            number = float(raw)
        except (TypeError, ValueError, OverflowError):
            return 0, "not a number"
        if math.isnan(number):
            return 0, "not a number"
        if math.isinf(number):
            return (0, "negative") if number < 0 else (MAX_TOKEN_COUNT, "infinite")
        value = int(number)
        problem = None if number == value else "not an integer"
    if value < 0:
        return 0, "negative"
    if value > MAX_TOKEN_COUNT:
        return MAX_TOKEN_COUNT, f"over {MAX_TOKEN_COUNT}"
    return value, problem


@dataclass(frozen=True, slots=True)
class ChatChoice:
    """A further choice of an answer to a request with `n` > 1 (OpenAI-compatible providers only)."""

    index: int
    content: str | None
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: Any = None


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A finished, non-streamed completion."""

    content: str | None
    finish_reason: str | None
    usage: Usage | None
    provider_response_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: Any = None  # OpenAI's logprobs object of the first choice, passed through when asked for
    more_choices: tuple[ChatChoice, ...] = ()  # choices 1..n-1 when `n` > 1
    native: dict[str, Any] | None = None  # the upstream's own answer, when the request's NativeRequest was used


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """One piece of a streamed completion: text, tool-call pieces, a role announcement, or the finish reason."""

    content: str | None = None
    role: str | None = None
    finish_reason: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    index: int = 0  # the choice it belongs to (only OpenAI-compatible answers to `n` > 1 have others)
    logprobs: Any = None
    native: tuple[str, dict[str, Any]] | None = None  # the upstream's own event (name, data) in native mode


class ChatStream:
    """An open upstream stream: iterate for deltas; `usage` is known once iteration ended.

    Providers subclass it (or pass a generator); `close()` must release the upstream connection at once.
    """

    def __init__(self, deltas: Iterator[ChatDelta], close: Any = None) -> None:
        self._deltas = deltas
        self._close = close
        self.usage: Usage | None = None
        #: What the provider had reported when the stream stopped early (Anthropic sends input and cache counts
        #: first): the gateway records it, completed by its own estimate, for a stream cut short.
        self.usage_so_far: Usage | None = None

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._deltas

    def close(self) -> None:
        closer = getattr(self._deltas, "close", None)
        if closer is not None:
            closer()
        if self._close is not None:
            self._close()


class RelayedStream(ChatStream):
    """A stream relaying another one through `deltas` (bookkeeping around it): its usage is the inner stream's,
    which the provider sets as it reads, and closing it closes the relay, then the inner stream."""

    def __init__(self, inner: ChatStream, deltas: Iterator[ChatDelta]) -> None:
        # Not calling ChatStream.__init__: usage and usage_so_far stay the inner stream's.
        self._inner = inner
        self._deltas = deltas
        self._close = inner.close

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._inner.usage = value

    @property
    def usage_so_far(self) -> Usage | None:
        return self._inner.usage_so_far

    @usage_so_far.setter
    def usage_so_far(self, value: Usage | None) -> None:
        self._inner.usage_so_far = value


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed: built by the surfaces with the gateway model id, routed like `ChatRequest`."""

    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None
    input_type: str | None = None
    user: str | None = field(default=None, metadata=NOT_IN_CACHE_KEY)
    request_id: str | None = field(default=None, metadata=NOT_IN_CACHE_KEY)

    def routed(self, provider_model: str, request_id: str) -> EmbeddingRequest:
        """This request as sent to one provider model."""
        return replace(self, model=provider_model, request_id=request_id)


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """Vectors in input order, with usage when the provider reports it."""

    vectors: tuple[tuple[float, ...], ...] | list[list[float]]
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class Pricing:
    """USD per million tokens; cached prices left None take the provider's published ratio to the input price."""

    input_per_million: float | None = None
    output_per_million: float | None = None
    cached_input_per_million: float | None = None
    cache_write_per_million: float | None = None
    cache_write_1h_per_million: float | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A catalogue entry a provider knows about its own models."""

    provider_model_id: str
    display_name: str | None = None
    context_window: int | None = None
    capabilities: tuple[str, ...] = ("completion",)
    pricing: Pricing = Pricing()
    default_max_tokens: int | None = None
