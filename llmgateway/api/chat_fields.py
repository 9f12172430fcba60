"""OpenAI's full chat shape as marshmallow fields: messages with parts and tool turns, tools, tool_choice and
response_format, parsed into the neutral chat values; every error names its place (`messages.2.tool_call_id`)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import orjson
from marshmallow import ValidationError, fields

from llmgateway.api.schemas import validate_messages_count
from llmgateway.providers.chat_types import (
    ContentPart,
    ImagePart,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from llmgateway.providers.images import ImageError, check_image_url
from llmgateway.providers.types import Message

MAX_CONTENT_CHARS = 4_000_000
MAX_TOOLS = 128
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: OpenAI's message roles the gateway understands; `developer` is OpenAI's newer name for `system`.
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
#: Message keys other than role/content/tool_calls/tool_call_id, accepted only with these neutral values.
NEUTRAL_MESSAGE_KEYS: dict[str, tuple[Any, ...]] = {
    "name": (None,),
    "function_call": (None,),
    "refusal": (None,),
    "audio": (None,),
    "annotations": (None, []),
}
DETAILS = ("auto", "low", "high")
#: Anthropic's prompt-cache breakpoint, accepted on content parts, messages and tools as other gateways do.
CACHE_TTLS = ("5m", "1h")
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def is_neutral(value: Any, neutral: tuple[Any, ...]) -> bool:
    return any(value is n or (type(value) is type(n) and value == n) for n in neutral)


def cache_control(raw: Any) -> dict[str, Any] | None:
    """`{"type": "ephemeral", "ttl"?: "5m" | "1h"}` (forwarded to Anthropic, dropped for other providers)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "ephemeral" or set(raw) - {"type", "ttl"}:
        raise ValidationError(['must be {"type": "ephemeral"} with an optional ttl'])
    if "ttl" in raw and raw["ttl"] not in CACHE_TTLS:
        raise ValidationError({"ttl": [f"must be one of {', '.join(CACHE_TTLS)}"]})
    return dict(raw)


def _part_cache_control(part: dict[str, Any], j: int) -> dict[str, Any] | None:
    try:
        return cache_control(part.get("cache_control"))
    except ValidationError as exc:
        raise ValidationError({j: {"cache_control": exc.messages}}) from exc


def _content(raw: Any, role: str) -> tuple[str, tuple[ContentPart, ...]]:
    """Text and, when images or cache breakpoints are present, the ordered parts; images only in user messages."""
    parts: tuple[ContentPart, ...]
    if isinstance(raw, str):
        text, parts = raw, ()
    elif isinstance(raw, list) and raw:
        texts: list[str] = []
        collected: list[ContentPart] = []
        for j, part in enumerate(raw):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
                collected.append(TextPart(part["text"], _part_cache_control(part, j)))
            elif kind == "image_url" and role == "user":
                image = _image(part.get("image_url"), j)
                collected.append(replace(image, cache_control=_part_cache_control(part, j)))
            elif kind == "image_url":
                raise ValidationError({j: ["image parts are only allowed in user messages"]})
            else:
                raise ValidationError({j: [f"must be a text or image_url part (got type {kind!r})"]})
        text = "\n".join(texts)
        keep = any(isinstance(p, ImagePart) or p.cache_control for p in collected)
        parts = tuple(collected) if keep else ()
    else:
        raise ValidationError(["must be a string or a non-empty array of content parts"])
    if len(text) > MAX_CONTENT_CHARS:
        raise ValidationError([f"must hold at most {MAX_CONTENT_CHARS} characters"])
    return text, parts


def _image(raw: Any, j: int) -> ImagePart:
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise ValidationError({j: {"image_url": ["must be an object with a url"]}})
    try:
        check_image_url(raw["url"])
    except ImageError as exc:
        raise ValidationError({j: {"image_url": {"url": [str(exc)]}}}) from exc
    detail = raw.get("detail")
    if detail is not None and detail not in DETAILS:
        raise ValidationError({j: {"image_url": {"detail": [f"must be one of {', '.join(DETAILS)}"]}}})
    return ImagePart(raw["url"], detail)


def _tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    if not isinstance(raw, list):
        raise ValidationError(["must be an array of tool calls"])
    calls = []
    for j, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or item.get("type", "function") != "function":
            raise ValidationError({j: ["must be {id, type: function, function: {name, arguments}}"]})
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise ValidationError({j: {"id": ["must be a non-empty string"]}})
        if not isinstance(function.get("name"), str) or not NAME.match(function["name"]):
            raise ValidationError({j: {"function": {"name": ["must be 1-64 letters, digits, _ or -"]}}})
        arguments = function.get("arguments")
        if not isinstance(arguments, str) or not _is_json(arguments):
            raise ValidationError({j: {"function": {"arguments": ["must be a string holding JSON"]}}})
        calls.append(ToolCall(item["id"], function["name"], arguments))
    return tuple(calls)


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def parse_message(raw: Any, called: set[str]) -> Message:
    """One message; `called` holds the ids of earlier tool calls and gains this message's."""
    if not isinstance(raw, dict):
        raise ValidationError(["must be an object with role and content"])
    role = ROLES.get(raw.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise ValidationError({"role": [f"must be one of {', '.join(ROLES)}"]})
    for key, value in raw.items():
        if key in ("role", "content", "tool_calls", "tool_call_id", "cache_control"):
            continue
        if key not in NEUTRAL_MESSAGE_KEYS:
            raise ValidationError({key: ["is not a message field the gateway supports"]})
        if not is_neutral(value, NEUTRAL_MESSAGE_KEYS[key]):
            raise ValidationError({key: ["is not supported by the gateway"]})
    calls: tuple[ToolCall, ...] = ()
    if raw.get("tool_calls") not in (None, []):
        if role != "assistant":
            raise ValidationError({"tool_calls": ["only assistant messages carry tool calls"]})
        try:
            calls = _tool_calls(raw["tool_calls"])
        except ValidationError as exc:
            raise ValidationError({"tool_calls": exc.messages}) from exc
    call_id = raw.get("tool_call_id")
    if role == "tool" and (not isinstance(call_id, str) or call_id not in called):
        raise ValidationError({"tool_call_id": ["must be the id of a tool call in an earlier assistant message"]})
    if role != "tool" and call_id is not None:
        raise ValidationError({"tool_call_id": ["only tool messages answer a tool call"]})
    content = raw.get("content")
    parts: tuple[ContentPart, ...]
    if content is None and calls:
        text, parts = "", ()
    else:
        try:
            text, parts = _content(content, role)
        except ValidationError as exc:
            raise ValidationError({"content": exc.messages}) from exc
    try:
        marker = cache_control(raw.get("cache_control"))
    except ValidationError as exc:
        raise ValidationError({"cache_control": exc.messages}) from exc
    if marker is not None and role in ("system", "user", "assistant") and (text or parts):
        # a message-level breakpoint marks the message's last block, as Anthropic's top-level one does
        parts = parts or (TextPart(text),)
        parts = (*parts[:-1], replace(parts[-1], cache_control=marker))
    called.update(call.id for call in calls)
    return Message(role, text, parts, calls, call_id if role == "tool" else None)


class MessagesField(fields.Field):
    """OpenAI `messages`: system/developer/user/assistant/tool; text or text+image parts; tool calls and results."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[Message, ...]:
        if not isinstance(value, list):
            raise ValidationError("must be an array of messages")
        validate_messages_count(value)
        called: set[str] = set()
        messages = []
        for i, raw in enumerate(value):
            try:
                messages.append(parse_message(raw, called))
            except ValidationError as exc:
                raise ValidationError({i: exc.messages}) from exc
        return tuple(messages)


def schema_problem(schema: Any, root: bool = True) -> str | None:
    """What is malformed in a function's parameters schema (an object schema; keywords of the right types)."""
    if not isinstance(schema, dict):
        return "must be a JSON Schema object"
    kind = schema.get("type")
    if root and kind not in ("object", None):  # no type: an object schema with no arguments
        return "must be a JSON Schema of type 'object'"
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if any(k not in JSON_TYPES for k in kinds):
        return f"has an unknown type {kind!r}"
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            return "properties must be an object"
        for name, sub in properties.items():
            problem = schema_problem(sub, root=False)
            if problem:
                return f"properties.{name} {problem}"
    required = schema.get("required")
    if required is not None and not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
        return "required must be an array of property names"
    if "items" in schema and not isinstance(schema["items"], (dict, bool)):
        return "items must be a schema"
    if "enum" in schema and not isinstance(schema["enum"], list):
        return "enum must be an array"
    return None


class ToolsField(fields.Field):
    """`tools`: up to 128 functions with a name, a description and a JSON Schema of their parameters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[ToolSpec, ...]:
        if not isinstance(value, list):
            raise ValidationError("must be an array of tools")
        if len(value) > MAX_TOOLS:
            raise ValidationError(f"must hold at most {MAX_TOOLS} tools")
        tools, names = [], set()
        for i, raw in enumerate(value):
            function = raw.get("function") if isinstance(raw, dict) else None
            if not isinstance(raw, dict) or raw.get("type") != "function" or not isinstance(function, dict):
                raise ValidationError({i: ["must be {type: function, function: {name, parameters}}"]})
            name = function.get("name")
            if not isinstance(name, str) or not NAME.match(name):
                raise ValidationError({i: {"function": {"name": ["must be 1-64 letters, digits, _ or -"]}}})
            if name in names:
                raise ValidationError({i: {"function": {"name": ["repeats an earlier tool's name"]}}})
            names.add(name)
            parameters = function.get("parameters")
            problem = schema_problem(parameters) if parameters is not None else None
            if problem:
                raise ValidationError({i: {"function": {"parameters": [problem]}}})
            try:
                marker = cache_control(raw.get("cache_control"))
            except ValidationError as exc:
                raise ValidationError({i: {"cache_control": exc.messages}}) from exc
            description, strict = function.get("description"), function.get("strict")
            if description is not None and not isinstance(description, str):
                raise ValidationError({i: {"function": {"description": ["must be a string"]}}})
            if strict is not None and not isinstance(strict, bool):
                raise ValidationError({i: {"function": {"strict": ["must be a boolean"]}}})
            tools.append(ToolSpec(name, description, parameters, strict, marker))
        return tuple(tools)


class ToolChoiceField(fields.Field):
    """`tool_choice`: none, auto, required, or {type: function, function: {name}}."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> ToolChoice:
        if value in ("none", "auto", "required"):
            return ToolChoice(value)
        if isinstance(value, dict) and value.get("type") == "function":
            name = (value.get("function") or {}).get("name")
            if isinstance(name, str) and name:
                return ToolChoice("function", name)
        raise ValidationError("must be none, auto, required or {type: function, function: {name}}")


class ResponseFormatField(fields.Field):
    """`response_format`: {type: text | json_object | json_schema, json_schema: {name, schema, strict}}."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> ResponseFormat:
        kind = value.get("type") if isinstance(value, dict) else None
        if kind in ("text", "json_object"):
            return ResponseFormat(kind)
        if kind != "json_schema":
            raise ValidationError({"type": ["must be text, json_object or json_schema"]})
        inner = value.get("json_schema")
        if not isinstance(inner, dict) or not isinstance(inner.get("name"), str) or not NAME.match(inner["name"]):
            raise ValidationError({"json_schema": {"name": ["must be 1-64 letters, digits, _ or -"]}})
        schema = inner.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise ValidationError({"json_schema": {"schema": ["must be a JSON Schema object"]}})
        strict = inner.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise ValidationError({"json_schema": {"strict": ["must be a boolean"]}})
        return ResponseFormat("json_schema", inner["name"], schema, strict, inner.get("description"))


def check_tool_choice(data: dict[str, Any]) -> None:
    """A named tool_choice must name one of the tools; tool_choice and parallel_tool_calls need tools."""
    tools, choice = data.get("tools") or (), data.get("tool_choice")
    if choice is not None and choice.mode == "function" and choice.name not in {t.name for t in tools}:
        raise ValidationError({"tool_choice": ["names no function in tools"]})
    if choice is not None and choice.mode == "required" and not tools:
        raise ValidationError({"tool_choice": ["required needs tools"]})


def rich_fields() -> dict[str, fields.Field]:
    """The request fields both chat surfaces declare for tools and structured output."""
    return {
        "tools": ToolsField(allow_none=True),
        "tool_choice": ToolChoiceField(allow_none=True),
        "parallel_tool_calls": fields.Boolean(allow_none=True),
        "response_format": ResponseFormatField(allow_none=True),
    }
