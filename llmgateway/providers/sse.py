"""Server-sent-events parsing shared by every provider (bytes in, events out)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from llmgateway.errors import ServerError

#: The most `data:` an event may gather before its blank line (bounds the buffer of a misbehaving upstream).
MAX_EVENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: its `event:` name (or None) and its joined `data:` lines."""

    event: str | None
    data: str


def parse_sse(lines: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Group raw lines into events; accepts `data:` with or without the space and skips comments."""
    event: str | None = None
    data: list[str] = []
    size = 0
    for raw in lines:
        if not raw:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data, size = None, [], 0
            continue
        if raw.startswith(b":"):
            continue
        name, _, value = raw.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            size += len(value)
            if size > MAX_EVENT_BYTES:
                raise ServerError("The upstream stream sent an over-long event.")
            data.append(value.decode("utf-8", errors="replace"))
        elif name == b"event":
            event = value.decode("utf-8", errors="replace")
    if data:
        yield SSEEvent(event, "\n".join(data))
