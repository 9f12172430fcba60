"""An open completion stream: relays the upstream's deltas and settles the call once, however it ends."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from typing import Protocol

from llmgateway.core.results import StreamStart
from llmgateway.core.tokens import estimate_answer
from llmgateway.core.usage import UsageCall
from llmgateway.errors import GatewayError
from llmgateway.providers.chat_types import ToolCall, ToolCallAssembler
from llmgateway.providers.types import ChatDelta, Usage

#: Called once when the stream ends with (usage, the answer's text, its tool calls, finish reason, whether it
#: completed); returns the usage as priced.
StreamSettler = Callable[[Usage, str, tuple[ToolCall, ...], str | None, bool], Usage]

CLIENT_CLOSED = 499


class UpstreamDeltas(Protocol):
    """What the relay reads: an upstream stream (a ChatStream, or the AbortableStream that tracks one)."""

    @property
    def usage(self) -> Usage | None: ...

    @property
    def usage_so_far(self) -> Usage | None: ...

    def __iter__(self) -> Iterator[ChatDelta]: ...

    def close(self) -> None: ...


class CompletionStream:
    """Iterate for deltas; `usage` is final once iteration ended.

    Ending the iteration (normally, by error, or by the client going away through `close()`) releases the
    upstream connection, settles the call (price, reservation, cache) and sets its outcome exactly once; the
    request's lifecycle then records it.
    """

    def __init__(
        self, call: UsageCall, start: StreamStart, upstream: UpstreamDeltas, prompt_estimate: int, settle: StreamSettler
    ) -> None:
        self.start = start
        self.usage: Usage | None = None
        self._call = call
        self._upstream = upstream
        self._prompt_estimate = prompt_estimate
        self._settle = settle
        self._finish_reason: str | None = None
        self._text: list[str] = []
        self._tool_calls = ToolCallAssembler()  # whole calls by index, for the cache entry and the estimate
        self._finished = False
        self._iterator = self._relay()

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._iterator

    def close(self) -> None:
        """Stop now (client gone): closes the upstream and settles the partial call."""
        self._iterator.close()
        self._finish(CLIENT_CLOSED, "client_closed_request")  # no-op when the relay already finished

    def _relay(self) -> Generator[ChatDelta, None, None]:
        status: int = CLIENT_CLOSED
        code: str | None = "client_closed_request"
        try:
            for delta in self._upstream:
                if delta.content or delta.tool_calls:
                    self._call.mark_first_token()
                if delta.index == 0:  # other choices (`n` > 1) are relayed, never cached
                    if delta.content:
                        self._text.append(delta.content)
                    if delta.tool_calls:
                        self._tool_calls.add(delta.tool_calls)
                    self._finish_reason = delta.finish_reason or self._finish_reason
                yield delta
            status, code = 200, None
        except GatewayError as exc:
            status, code = exc.status, exc.code
            raise
        finally:
            self._finish(status, code)

    def _finish(self, status: int, code: str | None) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            self._upstream.close()
            text = "".join(self._text)
            calls = self._tool_calls.calls()
            self.usage = self._settle(self._known_usage(text, calls), text, calls, self._finish_reason, status == 200)
        finally:
            self._call.conclude(status, code)  # whatever failed above, the outcome is known to the record

    def _known_usage(self, text: str, calls: tuple[ToolCall, ...]) -> Usage:
        """The provider's final usage; for a stream cut short, what the provider had reported so far (Anthropic's
        input and cache counts) with the output estimated from the text relayed; else the gateway's estimate.
        Anything estimated is flagged."""
        if self._upstream.usage is not None:
            return self._upstream.usage
        output = estimate_answer(text, calls)
        so_far = self._upstream.usage_so_far
        if so_far is not None:
            return replace(so_far, completion_tokens=max(so_far.completion_tokens, output), estimated=True)
        return Usage(self._prompt_estimate, output, estimated=True)
