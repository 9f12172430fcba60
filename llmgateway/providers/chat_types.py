"""Rich chat values shared by surfaces and providers: content parts, tools, tool calls and response formats.

All are frozen dataclasses; JSON Schemas are kept as the client's parsed JSON (dicts), so a value is not
hashable but serialises deterministically (orjson with sorted keys), which is what the cache key needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text content part; `cache_control` is an Anthropic prompt-cache breakpoint (`{"type": "ephemeral"}`)."""

    text: str
    cache_control: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image content part: an https URL or a `data:` URI (already checked by the surface), and OpenAI's detail."""

    url: str
    detail: str | None = None
    cache_control: Mapping[str, Any] | None = None  # an Anthropic prompt-cache breakpoint

    @property
    def is_inline(self) -> bool:
        return self.url.startswith("data:")

    @property
    def media_type(self) -> str | None:
        """The data URI's media type (`image/png`), None for a URL."""
        if not self.is_inline:
            return None
        return self.url[5:].split(";", 1)[0].split(",", 1)[0].lower()

    @property
    def base64_data(self) -> str | None:
        """The data URI's base64 payload without its prefix, None for a URL."""
        if not self.is_inline:
            return None
        return self.url.split(",", 1)[1] if "," in self.url else ""


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: name, description, JSON Schema of its arguments, strict mode."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None
    cache_control: Mapping[str, Any] | None = None  # an Anthropic prompt-cache breakpoint

    @property
    def schema(self) -> Mapping[str, Any]:
        """The arguments' schema; no parameters means no arguments (an empty object)."""
        return self.parameters if self.parameters is not None else {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`auto`, `none`, `required`, or `function` with the one function's name."""

    mode: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made: id, function name and arguments as JSON text (as OpenAI carries them)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call: `index` says which call; id and name come once, in its first piece."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """OpenAI's `response_format`: `text`, `json_object`, or `json_schema` with a named schema."""

    type: str
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None

    @property
    def wants_json(self) -> bool:
        return self.type in ("json_object", "json_schema")


class ToolCallAssembler:
    """Builds whole tool calls from streamed deltas, keyed by index (ids are not repeated after the first)."""

    def __init__(self) -> None:
        self._calls: dict[int, list[Any]] = {}  # index -> [id, name, [fragments]]

    def add(self, deltas: Iterable[ToolCallDelta]) -> None:
        for delta in deltas:
            entry = self._calls.setdefault(delta.index, [None, None, []])
            if delta.id:
                entry[0] = delta.id
            if delta.name:
                entry[1] = delta.name
            if delta.arguments:
                entry[2].append(delta.arguments)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls in index order."""
        return tuple(
            ToolCall(entry[0] or "", entry[1] or "", "".join(entry[2])) for _, entry in sorted(self._calls.items())
        )


def deltas_of(calls: Iterable[ToolCall]) -> tuple[ToolCallDelta, ...]:
    """Whole calls as one delta each (a replayed or non-streamed answer)."""
    return tuple(ToolCallDelta(i, call.id, call.name, call.arguments) for i, call in enumerate(calls))
