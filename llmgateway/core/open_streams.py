"""The streams a process is relaying, so a shutdown can end each one with an error event before it is killed."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from gevent import Greenlet, getcurrent

from llmgateway.errors import GatewayError
from llmgateway.providers.types import ChatDelta, ChatStream, Usage


class AbortableStream:
    """Wraps an upstream stream: `abort(error)` makes its iteration raise `error` (at once under gevent)."""

    def __init__(self, inner: ChatStream, registry: OpenStreams) -> None:
        self._inner = inner
        self._registry = registry
        self._aborted: GatewayError | None = None
        self._reader: Any = None  # the greenlet blocked waiting for the next upstream delta

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @property
    def usage_so_far(self) -> Usage | None:
        return self._inner.usage_so_far

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._deltas()

    def _deltas(self) -> Iterator[ChatDelta]:
        iterator = iter(self._inner)
        try:
            while True:
                if self._aborted is not None:
                    raise self._aborted
                self._reader = _current_greenlet()
                try:
                    delta = next(iterator)
                except StopIteration:
                    return
                except GatewayError as exc:
                    if self._aborted is not None and exc is not self._aborted:
                        raise self._aborted from exc
                    raise
                finally:
                    self._reader = None
                yield delta
        finally:
            self._registry.discard(self)

    def abort(self, error: GatewayError) -> None:
        self._aborted = error
        reader = self._reader
        if reader is not None:
            _interrupt(self, reader, error)

    def reading(self, reader: Any) -> bool:
        """Whether `reader` is still waiting inside this stream for the next upstream delta."""
        return self._reader is reader

    def close(self) -> None:
        self._registry.discard(self)
        self._inner.close()


class OpenStreams:
    """A weak set of the upstream streams being relayed in this process."""

    def __init__(self) -> None:
        self._streams: weakref.WeakSet[AbortableStream] = weakref.WeakSet()
        self._lock = threading.Lock()

    def track(self, upstream: ChatStream) -> AbortableStream:
        stream = AbortableStream(upstream, self)
        with self._lock:
            self._streams.add(stream)
        return stream

    def discard(self, stream: AbortableStream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def __len__(self) -> int:
        return len(self._streams)

    def abort_all(self, make_error: Callable[[], GatewayError]) -> int:
        """End every open stream with its own error instance; returns how many were open."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.abort(make_error())
        return len(streams)


def _current_greenlet() -> Any:
    return getcurrent()


def _interrupt(stream: AbortableStream, reader: Any, error: GatewayError) -> None:
    """Raise `error` in a gevent greenlet blocked on the upstream socket; plain threads see the flag instead.

    The error is delivered from the hub, and only if the greenlet is still waiting for the upstream then. By the
    time the hub runs the callback it may have received a delta and moved on, for instance into writing the
    usage record, and an error landing there would lose the record. It then sees the flag at its next read.
    """
    if not isinstance(reader, Greenlet) or reader is getcurrent() or reader.dead:
        return

    def deliver() -> None:
        if stream.reading(reader) and not reader.dead:
            reader.throw(error)

    reader.parent.loop.run_callback(deliver)
