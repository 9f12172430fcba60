"""Provider-neutral request and response values passed between the pipeline and the provider modules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
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
    """A chat completion as the gateway understands it, already routed to one provider model."""

    model: str  # the provider's model id
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    user: str | None = None
    request_id: str | None = None  # propagated upstream for tracing
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


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one call; `estimated` when the provider did not report them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.estimated:
            out["estimated"] = True
        return out


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A finished, non-streamed completion."""

    content: str | None
    finish_reason: str | None
    usage: Usage | None
    provider_response_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    native: dict[str, Any] | None = None  # the upstream's own answer, when the request's NativeRequest was used


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """One piece of a streamed completion: text, tool-call pieces, a role announcement, or the finish reason."""

    content: str | None = None
    role: str | None = None
    finish_reason: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    native: tuple[str, dict[str, Any]] | None = None  # the upstream's own event (name, data) in native mode


class ChatStream:
    """An open upstream stream: iterate for deltas; `usage` is known once iteration ended.

    Providers subclass it (or pass a generator); `close()` must release the upstream connection at once.
    """

    def __init__(self, deltas: Iterator[ChatDelta], close: Any = None) -> None:
        self._deltas = deltas
        self._close = close
        self.usage: Usage | None = None

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._deltas

    def close(self) -> None:
        closer = getattr(self._deltas, "close", None)
        if closer is not None:
            closer()
        if self._close is not None:
            self._close()


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed with one provider model."""

    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None
    input_type: str | None = None
    user: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """Vectors in input order, with usage when the provider reports it."""

    vectors: tuple[tuple[float, ...], ...] | list[list[float]]
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class Pricing:
    """USD per million tokens."""

    input_per_million: float | None = None
    output_per_million: float | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A catalogue entry a provider knows about its own models."""

    provider_model_id: str
    display_name: str | None = None
    context_window: int | None = None
    capabilities: tuple[str, ...] = ("completion",)
    pricing: Pricing = Pricing()
    default_max_tokens: int | None = None
