"""Carries the client's Cache-Control request directives into the pipeline input (core never reads HTTP)."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from flask import request

from llmgateway.core.pipeline import CompletionInput, EmbeddingInput
from llmgateway.core.response_cache import CacheDirectives

I = TypeVar("I", CompletionInput, EmbeddingInput)  # noqa: E741


def with_cache_control(pipeline_input: I) -> I:
    """The input with `no-cache` / `no-store` from this request's Cache-Control header."""
    header = request.headers.get("Cache-Control")
    if not header:
        return pipeline_input
    return replace(pipeline_input, cache_control=CacheDirectives.parse(header))
