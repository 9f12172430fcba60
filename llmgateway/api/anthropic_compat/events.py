"""Neutral stream deltas → Anthropic's event sequence (message_start … message_stop), each with an `event:` line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from llmgateway.api.anthropic_compat.render import error_body, message_id, stop_reason, usage_body
from llmgateway.errors import GatewayError
from llmgateway.providers.types import ChatDelta, Usage


def sse(name: str, data: dict[str, Any]) -> bytes:
    """One event: the SDK drops any event without an `event:` line, so both lines are always written."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageEvents:
    """Writes one answer's events: blocks get dense indexes from 0, usage totals are cumulative."""

    def __init__(self, *, request_id: str, model: str, input_tokens: int) -> None:
        self.request_id = request_id
        self.model = model
        self.input_tokens = input_tokens  # an estimate: the upstream's count arrives with the last event
        self._index = -1
        self._open: str | None = None  # type of the block currently open
        self._pinged = False

    def events(self, deltas: Iterable[ChatDelta], final_usage: Callable[[], Usage | None]) -> Iterator[bytes]:
        """The whole sequence; an error after the start is one `error` event and the stream ends."""
        finish: str | None = None
        try:
            yield self.message_start()
            for delta in deltas:
                if delta.content:
                    yield from self.text(delta.content)
                finish = delta.finish_reason or finish
            if self._index < 0:  # an empty answer still has one (empty) text block
                yield from self.start_block({"type": "text", "text": ""})
            yield from self.stop_block()
            yield self.message_delta(finish, final_usage())
            yield sse("message_stop", {"type": "message_stop"})
        except GatewayError as exc:
            yield sse("error", error_body(exc, self.request_id))

    def message_start(self) -> bytes:
        usage = usage_body(Usage(self.input_tokens, 1))
        message: dict[str, Any] = {
            "id": message_id(self.request_id), "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage,
        }
        return sse("message_start", {"type": "message_start", "message": message})

    def text(self, text: str) -> Iterator[bytes]:
        if self._open != "text":
            yield from self.stop_block()
            yield from self.start_block({"type": "text", "text": ""})
        yield sse("content_block_delta", {"type": "content_block_delta", "index": self._index,
                                          "delta": {"type": "text_delta", "text": text}})

    def start_block(self, block: dict[str, Any]) -> Iterator[bytes]:
        self._index += 1
        self._open = block["type"]
        yield sse("content_block_start", {"type": "content_block_start", "index": self._index,
                                          "content_block": block})
        if not self._pinged:  # where Anthropic sends it: after the first block starts
            self._pinged = True
            yield sse("ping", {"type": "ping"})

    def stop_block(self) -> Iterator[bytes]:
        if self._open is not None:
            self._open = None
            yield sse("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def message_delta(self, finish: str | None, usage: Usage | None) -> bytes:
        totals = usage_body(usage) if usage is not None else {"output_tokens": 0}
        return sse("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(finish), "stop_sequence": None},
            "usage": totals,
        })
