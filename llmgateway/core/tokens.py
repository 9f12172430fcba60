"""Token estimation for when a provider reports no usage (and for admission-time reservations)."""

from __future__ import annotations

from collections.abc import Iterable

from llmgateway.providers.types import Message

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def estimate_text(text: str | None) -> int:
    """About four characters per token, never zero for non-empty text."""
    if not text:
        return 0
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def estimate_messages(messages: Iterable[Message]) -> int:
    """Prompt tokens for a chat: content plus the per-message framing OpenAI-style models add."""
    return sum(estimate_text(m.content) + TOKENS_PER_MESSAGE for m in messages) + 2
