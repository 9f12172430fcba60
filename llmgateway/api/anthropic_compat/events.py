"""Neutral stream deltas → Anthropic's event sequence (message_start … message_stop), each with an `event:` line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from llmgateway.api.anthropic_compat.render import message_id, stop_reason, usage_body
from llmgateway.api.error_handlers import anthropic_error_body
from llmgateway.errors import GatewayError
from llmgateway.providers.chat_types import ToolCallDelta
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
        self._call_blocks: dict[int, int] = {}  # neutral tool-call index → its block index

    def events(self, deltas: Iterable[ChatDelta], final_usage: Callable[[], Usage | None]) -> Iterator[bytes]:
        """The whole sequence; an error after the start is one `error` event and the stream ends.

        When Anthropic answered a native request its own events are relayed as they came (thinking blocks,
        signatures and pings included); otherwise the sequence is written from the neutral deltas."""
        finish: str | None = None
        started = native = False
        try:
            for delta in deltas:
                if delta.native is not None:
                    native = True
                    yield self.relay(*delta.native)
                    continue
                if not started:
                    started = True
                    yield self.message_start()
                if delta.content:
                    yield from self.text(delta.content)
                for call in delta.tool_calls:
                    yield from self.tool_call(call)
                finish = delta.finish_reason or finish
            if native:  # the upstream's own message_delta and message_stop were relayed
                return
            if not started:
                yield self.message_start()
            if self._index < 0:  # an empty answer still has one (empty) text block
                yield from self.start_block({"type": "text", "text": ""})
            yield from self.stop_block()
            yield self.message_delta(finish, final_usage())
            yield sse("message_stop", {"type": "message_stop"})
        except GatewayError as exc:
            yield sse("error", anthropic_error_body(exc, self.request_id))

    def relay(self, name: str, data: dict[str, Any]) -> bytes:
        """One upstream event as is; only `message_start` names the gateway model id, as every answer does."""
        if name == "message_start" and isinstance(data.get("message"), dict):
            data = {**data, "message": {**data["message"], "model": self.model}}
        return sse(name, data)

    def message_start(self) -> bytes:
        usage = usage_body(Usage(self.input_tokens, 1))
        message: dict[str, Any] = {
            "id": message_id(self.request_id),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return sse("message_start", {"type": "message_start", "message": message})

    def text(self, text: str) -> Iterator[bytes]:
        if self._open != "text":
            yield from self.stop_block()
            yield from self.start_block({"type": "text", "text": ""})
        yield sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": {"type": "text_delta", "text": text}},
        )

    def tool_call(self, call: ToolCallDelta) -> Iterator[bytes]:
        """A tool call's first piece starts its tool_use block; its argument fragments are input_json_delta."""
        block = self._call_blocks.get(call.index)
        if block is None:
            yield from self.stop_block()
            yield from self.start_block(
                {"type": "tool_use", "id": call.id or f"toolu_{self._index + 1}", "name": call.name or "", "input": {}}
            )
            block = self._call_blocks[call.index] = self._index
        if call.arguments:  # a late piece of an earlier call still lands on its own block (the SDK keys by index)
            yield sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": block,
                    "delta": {"type": "input_json_delta", "partial_json": call.arguments},
                },
            )

    def start_block(self, block: dict[str, Any]) -> Iterator[bytes]:
        self._index += 1
        self._open = block["type"]
        yield sse("content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block})
        if not self._pinged:  # where Anthropic sends it: after the first block starts
            self._pinged = True
            yield sse("ping", {"type": "ping"})

    def stop_block(self) -> Iterator[bytes]:
        if self._open is not None:
            self._open = None
            yield sse("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def message_delta(self, finish: str | None, usage: Usage | None) -> bytes:
        totals = usage_body(usage) if usage is not None else {"output_tokens": 0}
        return sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(finish), "stop_sequence": None},
                "usage": totals,
            },
        )
