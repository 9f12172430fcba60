"""Neutral stream deltas → the Responses event sequence, each event with a `sequence_number` counting from 0."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from llmgateway.api.responses.render import ResponseFrame, final_status, output_text_part
from llmgateway.errors import GatewayError
from llmgateway.providers.types import ChatDelta, Usage


class ResponseEvents:
    """Writes one response's events; `final` holds the finished Response object once the sequence ended."""

    def __init__(self, frame: ResponseFrame) -> None:
        self.frame = frame
        self.final: dict[str, Any] | None = None
        self._sequence = 0
        self._text: list[str] | None = None  # the message item's text, once that item was added

    def sse(self, kind: str, **payload: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._sequence, **payload}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def events(self, deltas: Iterable[ChatDelta], final_usage: Callable[[], Usage | None],
               on_final: Callable[[dict[str, Any]], None] | None = None) -> Iterator[bytes]:
        """created → in_progress → items → completed (or incomplete); a failure is `response.failed`.

        `on_final` gets the finished Response before its last event is sent (so it is stored by then)."""
        finish: str | None = None
        output: list[dict[str, Any]] = []
        try:
            started = self.frame.body(status="in_progress", output=[], usage=None)
            yield self.sse("response.created", response=started)
            yield self.sse("response.in_progress", response=started)
            for delta in deltas:
                if delta.content:
                    yield from self.text(delta.content)
                finish = delta.finish_reason or finish
            if self._text is None:  # an empty answer is still one (empty) message
                yield from self.text("")
            yield from self.close_message(output)
            status, reason = final_status(finish)
            self.final = self.frame.body(status=status, output=output, usage=final_usage(), incomplete_reason=reason)
            if on_final is not None:
                on_final(self.final)
            yield self.sse(f"response.{status}", response=self.final)
        except GatewayError as exc:
            error = {"code": exc.code, "message": exc.message}
            yield self.sse("response.failed", response=self.frame.body(status="failed", output=output, usage=None,
                                                                        error=error))

    def text(self, text: str) -> Iterator[bytes]:
        item_id = self.frame.message_item(text).get("id")
        if self._text is None:
            self._text = []
            yield self.sse("response.output_item.added", output_index=0,
                           item=self.frame.message_item("", status="in_progress"))
            yield self.sse("response.content_part.added", item_id=item_id, output_index=0, content_index=0,
                           part={"type": "output_text", "text": "", "annotations": []})
        if text:
            self._text.append(text)
            yield self.sse("response.output_text.delta", item_id=item_id, output_index=0, content_index=0,
                           delta=text, logprobs=[])

    def close_message(self, output: list[dict[str, Any]]) -> Iterator[bytes]:
        text = "".join(self._text or ())
        item = self.frame.message_item(text)
        indices = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        yield self.sse("response.output_text.done", **indices, text=text, logprobs=[])
        yield self.sse("response.content_part.done", **indices, part=output_text_part(text))
        yield self.sse("response.output_item.done", output_index=0, item=item)
        output.append(item)
