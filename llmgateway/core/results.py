"""What the gateway answers, as every surface renders it: finished completions, embeddings, a stream's start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmgateway.core.usage import UsageCall
from llmgateway.providers.chat_types import ToolCall
from llmgateway.providers.types import ChatChoice, Usage


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """A finished completion."""

    id: str
    created: int
    model: str
    provider: str
    provider_model: str
    content: str | None
    finish_reason: str | None
    usage: Usage
    cached: bool = False
    fallback_from: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: Any = None
    more_choices: tuple[ChatChoice, ...] = ()  # choices 1..n-1 when `n` > 1
    native: dict[str, Any] | None = None  # the upstream's own answer to a native request (see NativeRequest)


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    """Vectors in input order, with the route that produced them."""

    model: str
    provider: str
    provider_model: str
    vectors: Any
    usage: Usage
    cached: bool = False


@dataclass(frozen=True, slots=True)
class StreamStart:
    """What is known when a stream opened: ids and the route that answered."""

    id: str
    created: int
    model: str
    provider: str
    provider_model: str
    fallback_from: str | None


def completion_id(call: UsageCall) -> str:
    """The OpenAI-style id of a completion, derived from the gateway's request id (plain, streamed or cached)."""
    return f"chatcmpl-{call.request_id.replace('-', '')}"
