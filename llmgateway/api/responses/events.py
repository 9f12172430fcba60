"""Neutral stream deltas → the Responses event sequence, each event with a `sequence_number` counting from 0."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

import orjson

from llmgateway.api.responses.render import ResponseFrame, final_status, output_text_part
from llmgateway.errors import GatewayError
from llmgateway.providers.chat_types import ToolCallDelta
from llmgateway.providers.types import ChatDelta, Usage


class ResponseEvents:
    """Writes one response's events; `final` holds the finished Response object once the sequence ended.

    Output items get `output_index` 0, 1, … in the order they start: the message (if text comes), then one
    function_call item per call. Each item is added, filled by deltas, and done before `response.completed`.
    """

    def __init__(self, frame: ResponseFrame) -> None:
        self.frame = frame
        self.final: dict[str, Any] | None = None
        self._sequence = 0
        self._items: list[dict[str, Any]] = []  # the output items in output_index order, as they grow
        self._text: list[str] | None = None
        self._message_index: int | None = None
        self._calls: dict[int, int] = {}  # neutral tool-call index → output_index
        self._arguments: dict[int, list[str]] = {}
        self._finished: dict[int, dict[str, Any]] = {}  # output_index → the item as done

    def sse(self, kind: str, **payload: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._sequence, **payload}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def events(
        self,
        deltas: Iterable[ChatDelta],
        final_usage: Callable[[], Usage | None],
        on_final: Callable[[dict[str, Any]], None] | None = None,
    ) -> Iterator[bytes]:
        """created → in_progress → items → completed (or incomplete); a failure is `response.failed`.

        `on_final` gets the finished Response before its last event is sent (so it is stored by then)."""
        finish: str | None = None
        try:
            upstream = iter(deltas)
            first = next(upstream, None)
            stream = chain((first,), upstream) if first is not None else upstream
            if first is not None and first.native is not None:  # OpenAI answered natively: relay its events
                yield from self.relay(stream, on_final)
                return
            started = self.frame.body(status="in_progress", output=[], usage=None)
            yield self.sse("response.created", response=started)
            yield self.sse("response.in_progress", response=started)
            for delta in stream:
                if delta.content:
                    yield from self.text(delta.content)
                for call in delta.tool_calls:
                    yield from self.tool_call(call)
                finish = delta.finish_reason or finish
            if not self._items:  # an empty answer is still one (empty) message
                yield from self.text("")
            for index in range(len(self._items)):
                yield from self.close_item(index)
            items = [self._finished[index] for index in range(len(self._items))]
            status, reason = final_status(finish)
            self.final = self.frame.body(status=status, output=items, usage=final_usage(), incomplete_reason=reason)
            if on_final is not None:
                on_final(self.final)
            yield self.sse(f"response.{status}", response=self.final)
        except GatewayError as exc:
            error = {"code": exc.code, "message": exc.message}
            yield self.sse(
                "response.failed", response=self.frame.body(status="failed", output=[], usage=None, error=error)
            )

    def relay(self, deltas: Iterator[ChatDelta], on_final: Callable[[dict[str, Any]], None] | None) -> Iterator[bytes]:
        """OpenAI's own events as they came; lifecycle events carry the gateway's response id and model. A later
        failure event continues the upstream's sequence numbers."""
        for delta in deltas:
            if delta.native is None:
                continue
            kind, data = delta.native
            if isinstance(data.get("response"), dict):
                data = {**data, "response": self.frame.native(data["response"])}
                if kind in ("response.completed", "response.incomplete"):
                    self.final = data["response"]
                    if on_final is not None:
                        on_final(self.final)
            if isinstance(data.get("sequence_number"), int):
                self._sequence = data["sequence_number"] + 1
            yield b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def text(self, text: str) -> Iterator[bytes]:
        item_id = self.frame.message_item("")["id"]
        if self._message_index is None:
            self._message_index, self._text = len(self._items), []
            self._items.append(self.frame.message_item("", status="in_progress"))
            yield self.sse("response.output_item.added", output_index=self._message_index, item=self._items[-1])
            yield self.sse(
                "response.content_part.added",
                item_id=item_id,
                output_index=self._message_index,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            )
        if text and self._text is not None:
            self._text.append(text)
            yield self.sse(
                "response.output_text.delta",
                item_id=item_id,
                output_index=self._message_index,
                content_index=0,
                delta=text,
                logprobs=[],
            )

    def tool_call(self, call: ToolCallDelta) -> Iterator[bytes]:
        index = self._calls.get(call.index)
        if index is None:
            index = self._calls[call.index] = len(self._items)
            self._arguments[index] = []
            self._items.append(
                self.frame.function_call_item(call.index, call.id or "", call.name or "", "", status="in_progress")
            )
            yield self.sse("response.output_item.added", output_index=index, item=self._items[index])
        if call.arguments:
            self._arguments[index].append(call.arguments)
            yield self.sse(
                "response.function_call_arguments.delta",
                item_id=self._items[index]["id"],
                output_index=index,
                delta=call.arguments,
            )

    def close_item(self, index: int) -> Iterator[bytes]:
        """An item's closing events, once; the finished item is kept for the final output."""
        if index in self._finished:
            return
        item = self._items[index]
        if index == self._message_index:
            text = "".join(self._text or ())
            done = self.frame.message_item(text)
            indices = {"item_id": done["id"], "output_index": index, "content_index": 0}
            yield self.sse("response.output_text.done", **indices, text=text, logprobs=[])
            yield self.sse("response.content_part.done", **indices, part=output_text_part(text))
        else:
            arguments = "".join(self._arguments[index])
            done = {**item, "arguments": arguments, "status": "completed"}
            yield self.sse(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=arguments,
            )
        self._finished[index] = done
        yield self.sse("response.output_item.done", output_index=index, item=done)
