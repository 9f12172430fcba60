"""A parsed surface request: the neutral model request, the gateway options, and how to answer it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypeVar

from flask import request

from llmgateway.core.options import CacheDirectives, CallOptions
from llmgateway.providers.types import ChatRequest, EmbeddingRequest


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A chat request from any surface; `stream` and `include_usage` say how the surface answers."""

    request: ChatRequest
    options: CallOptions = field(default_factory=CallOptions)
    stream: bool = False
    include_usage: bool = True


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    """An embedding request from any surface; `encoding_format` is float or base64 (OpenAI's)."""

    request: EmbeddingRequest
    options: CallOptions = field(default_factory=CallOptions)
    encoding_format: str = "float"


C = TypeVar("C", ChatCall, EmbeddingCall)


def with_cache_control(call: C) -> C:
    """The call with `no-cache` / `no-store` from this request's Cache-Control header (core never reads HTTP)."""
    header = request.headers.get("Cache-Control")
    if not header:
        return call
    return replace(call, options=replace(call.options, cache_control=CacheDirectives.parse(header)))
