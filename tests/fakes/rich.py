"""What every fake provider answers to tools, tool results, images and JSON output, independent of wire format.

A fake parses its own wire format into these neutral inputs, asks `plan_answer` what to say, and renders the
plan in its own format; `produced` records the calls exactly as the fake sent them, so tests can compare.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


@dataclass
class PlannedCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the fake sends it


@dataclass
class Plan:
    """The answer: text, tool calls, or JSON text (`json_mode`)."""

    text: str
    calls: list[PlannedCall] = field(default_factory=list)
    json_mode: bool = False

    @property
    def call_tokens(self) -> int:
        """The output tokens the tool calls cost (the fakes' whitespace tokenizer over their arguments)."""
        return sum(max(1, len(call.arguments.split())) for call in self.calls)


@dataclass
class RichInput:
    """The neutral view of one request's rich parts, as a fake parsed it from its wire format."""

    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    choice: str | None = None  # auto | none | required | a tool name
    parallel: bool = True
    tool_results: list[str] = field(default_factory=list)  # contents of the results in the last turn
    json_schema: dict[str, Any] | None = None  # the schema asked for (`{"type": "object"}` for json_object)
    images: int = 0


def plan_answer(rich: RichInput, default_text: str, id_prefix: str) -> Plan:
    """Tools offered and no results yet: call them (two parallel calls unless parallel is off);
    results present: a final answer quoting them; JSON asked: a sample of the schema as text."""
    if rich.tool_results:
        return Plan("Results: " + " | ".join(rich.tool_results))
    if rich.tools and rich.choice != "none":
        tools = [t for t in rich.tools if rich.choice in (None, "auto", "required", t[0])]
        named = rich.choice not in (None, "auto", "required")
        picks = (tools * 2)[:2] if rich.parallel and not named else tools[:1]
        calls = [
            PlannedCall(f"{id_prefix}{i}{name[:3]}", name, json.dumps(sample(schema, i), separators=(", ", ": ")))
            for i, (name, schema) in enumerate(picks)
        ]
        return Plan("", calls)
    if rich.json_schema is not None:
        return Plan(json.dumps(sample(rich.json_schema, 0)), json_mode=True)
    if rich.images:
        return Plan(f"{default_text} (saw {rich.images} images)")
    return Plan(default_text)


def sample(schema: Any, seed: int) -> Any:
    """A value that satisfies a simple JSON Schema (objects, arrays, enums, scalars)."""
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][seed % len(schema["enum"])]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: sample(sub, seed) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample(schema.get("items") or {"type": "string"}, seed)]
    if kind == "integer":
        return 17 + seed
    if kind == "number":
        return 17.5 + seed
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "null":
        return None
    return ["Paris", "London", "Oslo"][seed % 3]


def fragments(text: str, size: int = 7) -> list[str]:
    """A JSON text cut in pieces, as providers stream tool arguments."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def image_bytes_problem(media_type: str | None, data: str) -> str | None:
    """Why base64 image data is refused (not base64, or bytes that are not the declared type), else None."""
    if media_type not in IMAGE_TYPES:
        return f"media_type: Input should be {', '.join(repr(t) for t in IMAGE_TYPES)}"
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "Image does not match the provided media type or is not valid base64"
    actual = next((t for magic, t in _MAGIC if raw.startswith(magic)), None)
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        actual = "image/webp"
    if actual != media_type:
        return f"Image does not match the provided media type {media_type}"
    return None


def data_uri_problem(url: Any) -> str | None:
    """For OpenAI-shaped image_url parts: an http(s) URL, or a base64 data URI of an image type."""
    if not isinstance(url, str):
        return "image_url.url must be a string"
    if url.startswith(("https://", "http://")):
        return None
    match = re.match(r"^data:([^;,]+);base64,(.*)$", url, re.S)
    if not match:
        return "Invalid image URL: expected a URL or a base64 data URI"
    return image_bytes_problem(match.group(1), match.group(2))


def object_schema_problem(schema: Any, place: str) -> str | None:
    """A tool's JSON Schema must be an object schema."""
    if not isinstance(schema, dict):
        return f"{place}: Input should be a valid dictionary"
    if schema.get("type") != "object":
        return f"{place}.type: Input should be 'object'"
    return None


def tool_text(content: Any) -> str:
    """A tool result's text, from a string or a list of text (or document) blocks."""
    if isinstance(content, str):
        return content
    out = []
    for block in content or ():
        if isinstance(block, dict) and block.get("type") == "text":
            out.append(block.get("text") or "")
        elif isinstance(block, dict) and block.get("type") == "document":
            out.append(json.dumps((block.get("document") or {}).get("data")))
    return " ".join(out)
