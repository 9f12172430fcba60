"""The tests' one reader of server-sent events (written independently of llmgateway/providers/sse.py, so a
bug there cannot hide the same bug in what the gateway writes)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One event: its `event:` name (None when absent) and its `data:` lines joined by newlines."""

    name: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_lines(lines: Iterable[str | bytes]) -> Iterator[Event]:
    """Events from lines as they arrive (a blank line ends an event; `:` comments and other fields are skipped)."""
    name: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        if not line:
            if data or name is not None:
                yield Event(name, "\n".join(data))
            name, data = None, []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data or name is not None:
        yield Event(name, "\n".join(data))


def sse_parse(body: bytes | str | Iterable[bytes]) -> list[Event]:
    """Every event of a whole body (bytes, text, or chunks as a streamed response yields them)."""
    if not isinstance(body, (bytes, str)):
        body = b"".join(body)
    text = body.decode() if isinstance(body, bytes) else body
    return list(parse_lines(text.split("\n")))


def sse_events(body: bytes | str | Iterable[bytes]) -> list[str]:
    """The `data:` payload of every event of a whole body, e.g. ['{"id": …}', …, '[DONE]']."""
    return [event.data for event in sse_parse(body)]


def streamed_data(response: Any) -> Iterator[str]:
    """The `data:` payloads of a streamed `requests` response, each as soon as its event is complete."""
    for event in parse_lines(response.iter_lines()):
        yield event.data
