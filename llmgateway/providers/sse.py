"""Server-sent-events parsing shared by every provider (bytes in, events out)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: its `event:` name (or None) and its joined `data:` lines."""

    event: str | None
    data: str


def parse_sse(lines: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Group raw lines into events; accepts `data:` with or without the space and skips comments."""
    event: str | None = None
    data: list[str] = []
    for raw in lines:
        if not raw:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if raw.startswith(b":"):
            continue
        name, _, value = raw.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value.decode("utf-8", errors="replace"))
        elif name == b"event":
            event = value.decode("utf-8", errors="replace")
    if data:
        yield SSEEvent(event, "\n".join(data))
