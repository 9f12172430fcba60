"""Reading a provider stream to its end in tests."""

from __future__ import annotations

from llmgateway.providers.types import ChatDelta, ChatStream


def drain(stream: ChatStream) -> tuple[str, list[ChatDelta]]:
    """Read a stream to its end (closing it), returning the joined text and every delta."""
    deltas: list[ChatDelta] = []
    try:
        deltas.extend(stream)
    finally:
        stream.close()
    return "".join(d.content or "" for d in deltas), deltas


def finish_of(deltas: list[ChatDelta]) -> list[str]:
    return [d.finish_reason for d in deltas if d.finish_reason]
