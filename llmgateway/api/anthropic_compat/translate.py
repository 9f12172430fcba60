"""Anthropic Messages request → the neutral chat request: turns, blocks, system, stops, user; bad input is a 400."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from llmgateway.api.schemas import FORBIDDEN_FIELDS
from llmgateway.errors import InvalidRequest
from llmgateway.providers.chat_types import ImagePart, ResponseFormat, TextPart, ToolCall, ToolChoice, ToolSpec
from llmgateway.providers.images import ImageError, check_image_url
from llmgateway.providers.types import ChatRequest, Message, NativeRequest

ROLES = ("user", "assistant")
#: Block types a client may send, by the roles that may carry them.
BLOCK_ROLES: dict[str, tuple[str, ...]] = {
    "text": ROLES,
    "image": ("user",),
    "document": ("user",),
    "tool_use": ("assistant",),
    "tool_result": ("user",),
    "thinking": ("assistant",),
    "redacted_thinking": ("assistant",),
    "server_tool_use": ("assistant",),
    "web_search_tool_result": ("user", "assistant"),
    "search_result": ("user",),
}
#: Blocks only Anthropic itself understands: kept in the native body, left out of the neutral request.
ANTHROPIC_ONLY_BLOCKS = frozenset({"thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result"})
#: The native API an Anthropic upstream receives this surface's body through, untouched (see NativeRequest).
NATIVE_API = "anthropic.messages"
#: Headers of the client's request that are forwarded to Anthropic upstreams only.
FORWARDED_HEADERS = ("anthropic-beta",)


@dataclass(frozen=True, slots=True)
class MessagesCall:
    """A parsed /v1/messages request: the neutral request (carrying the client's body for Anthropic) and the mode."""

    request: ChatRequest
    stream: bool = False


def bad(param: str, message: str) -> InvalidRequest:
    """A 400 naming the field (Anthropic's `invalid_request_error`)."""
    return InvalidRequest(f"{param}: {message}", param=param)


def parse_messages_request(
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    max_tokens_limit: int = 1_000_000,
    max_messages: int = 10_000,
) -> MessagesCall:
    """Validate a Messages body and translate it; raises InvalidRequest (400) before any upstream call."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    forbidden = sorted(FORBIDDEN_FIELDS & set(body))
    if forbidden:
        raise bad(forbidden[0], "is not allowed: the gateway decides where requests go.")
    model = body.get("model")
    if not isinstance(model, str) or not 1 <= len(model) <= 256:
        raise bad("model", "Field required: a model id (1 to 256 characters).")
    if "max_tokens" not in body:
        raise bad("max_tokens", "Field required.")
    max_tokens = body["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= max_tokens_limit:
        raise bad("max_tokens", f"must be an integer between 1 and {max_tokens_limit}.")
    messages = [*system_messages(body.get("system")), *conversation(body.get("messages"), max_messages)]
    choice, parallel = tool_choice(body.get("tool_choice"))
    forwarded = {name: value for name in FORWARDED_HEADERS if (value := (headers or {}).get(name))}
    request = ChatRequest(
        model=model,
        messages=tuple(messages),
        temperature=number(body, "temperature", 0.0, 1.0),
        max_tokens=max_tokens,
        top_p=number(body, "top_p", 0.0, 1.0),
        stop=stop_sequences(body.get("stop_sequences")),
        user=user_id(body.get("metadata")),
        tools=tools(body.get("tools")),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        response_format=output_format(body.get("output_config")),
        native=NativeRequest(NATIVE_API, {k: v for k, v in body.items() if k not in ("model", "stream")}, forwarded),
    )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "must be a boolean.")
    return MessagesCall(request=request, stream=bool(stream))


def number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise bad(name, f"must be a number between {low:g} and {high:g}.")
    return float(value)


def stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise bad("stop_sequences", "must be a list of non-empty strings.")
    return tuple(value)


def user_id(metadata: Any) -> str | None:
    """`metadata.user_id`: the end user, which the ledger records as the request's user."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise bad("metadata", "must be an object.")
    value = metadata.get("user_id")
    if value is not None and (not isinstance(value, str) or len(value) > 256):
        raise bad("metadata.user_id", "must be a string of at most 256 characters.")
    return value or None


def system_messages(system: Any) -> list[Message]:
    """`system`: a string or text blocks, one neutral system message."""
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [Message("system", system)]
    if not isinstance(system, list):
        raise bad("system", "must be a string or a list of text blocks.")
    texts = []
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise bad(f"system.{index}", "must be a text block {type: 'text', text}.")
        texts.append(block["text"])
    return [Message("system", "\n\n".join(texts))] if texts else []


def conversation(raw: Any, max_messages: int) -> list[Message]:
    """The turns as neutral messages, checking every block and that each tool_result answers a tool_use."""
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "Field required: a non-empty list of messages.")
    if len(raw) > max_messages:
        raise bad("messages", f"must hold at most {max_messages} messages.")
    tool_use_ids: set[str] = set()
    out: list[Message] = []
    for index, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise bad(f"messages.{index}", "must be an object with role and content.")
        role = turn.get("role")
        if role not in ROLES:
            raise bad(
                f"messages.{index}.role", "must be 'user' or 'assistant' (system goes in the top-level `system` field)."
            )
        out.extend(turn_messages(role, turn.get("content"), f"messages.{index}", tool_use_ids))
    return out


def turn_messages(role: str, content: Any, path: str, tool_use_ids: set[str]) -> list[Message]:
    """One turn as neutral messages: tool results become tool messages (first, as they answer the previous
    turn), the rest one user or assistant message with its text, images and tool calls."""
    if isinstance(content, str):
        return [Message(role, content)]
    if not isinstance(content, list):
        raise bad(f"{path}.content", "must be a string or a list of content blocks.")
    results: list[Message] = []
    parts: list[TextPart | ImagePart] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        where = f"{path}.content.{index}"
        kind = check_block(block, role, where)
        if kind == "text":
            parts.append(TextPart(block["text"]))
        elif kind == "image":
            parts.append(image_part(block["source"], f"{where}.source"))
        elif kind == "tool_use":
            tool_use_ids.add(block["id"])
            calls.append(ToolCall(block["id"], block["name"], orjson.dumps(block["input"]).decode()))
        elif kind == "tool_result":
            if block["tool_use_id"] not in tool_use_ids:
                raise bad(f"{where}.tool_use_id", f"no earlier tool_use block has the id {block['tool_use_id']!r}.")
            results.append(
                Message(
                    "tool", result_text(block.get("content"), f"{where}.content"), tool_call_id=block["tool_use_id"]
                )
            )
    text = "\n\n".join(part.text for part in parts if isinstance(part, TextPart))
    has_image = any(isinstance(part, ImagePart) for part in parts)
    if parts or calls or not content:
        results.append(Message(role, text, parts=tuple(parts) if has_image else (), tool_calls=tuple(calls)))
    return results


def image_part(source: dict[str, Any], where: str) -> ImagePart:
    """An image block's source as the neutral image: base64 becomes a data URI whose bytes are checked."""
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise bad(where, "only base64 and url image sources can be routed to any provider.")
    try:
        check_image_url(url)
    except ImageError as exc:
        raise bad(where, str(exc)) from exc
    return ImagePart(url)


def result_text(content: Any, where: str) -> str:
    """A tool_result's content as text: a string, or text blocks joined."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise bad(where, "must be a string or a list of blocks.")
    texts = []
    for index, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") not in ("text", "image"):
            raise bad(f"{where}.{index}", "tool results may hold text (and image) blocks only.")
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
    return "\n\n".join(texts)


def tools(raw: Any) -> tuple[ToolSpec, ...]:
    """Custom tools as neutral function tools; Anthropic's server tools stay in the native body only."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad("tools", "must be a list of tools.")
    out = []
    for index, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise bad(f"tools.{index}", "a tool needs a name.")
        if tool.get("type") not in (None, "custom"):
            continue
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise bad(f"tools.{index}.input_schema", "Field required: a JSON Schema object.")
        description = tool.get("description")
        out.append(
            ToolSpec(
                tool["name"],
                description if isinstance(description, str) else None,
                schema,
                tool.get("strict") if isinstance(tool.get("strict"), bool) else None,
            )
        )
    return tuple(out)


#: Anthropic's tool_choice types → the neutral modes.
CHOICE_MODES = {"auto": "auto", "any": "required", "none": "none", "tool": "function"}


def tool_choice(raw: Any) -> tuple[ToolChoice | None, bool | None]:
    """The neutral choice, and parallel calls off when `disable_parallel_tool_use` is set."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or raw.get("type") not in CHOICE_MODES:
        raise bad("tool_choice.type", "must be one of auto, any, tool, none.")
    mode = CHOICE_MODES[raw["type"]]
    if mode == "function" and not isinstance(raw.get("name"), str):
        raise bad("tool_choice.name", "Field required for type 'tool'.")
    parallel = False if raw.get("disable_parallel_tool_use") is True else None
    return ToolChoice(mode, raw.get("name") if mode == "function" else None), parallel


def output_format(raw: Any) -> ResponseFormat | None:
    """`output_config.format` (structured output) as the neutral JSON-schema response format."""
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise bad("output_config.format", "must be {type: 'json_schema', schema: {...}}.")
    return ResponseFormat("json_schema", name="output", schema=fmt["schema"])


def check_block(block: Any, role: str, where: str) -> str:
    """The block's type, after checking the fields the gateway relies on."""
    if not isinstance(block, dict):
        raise bad(where, "must be a content block object.")
    kind = block.get("type")
    roles = BLOCK_ROLES.get(kind) if isinstance(kind, str) else None
    if roles is None:
        raise bad(f"{where}.type", f"unknown content block type {kind!r}; expected one of {', '.join(BLOCK_ROLES)}.")
    if role not in roles:
        raise bad(f"{where}.type", f"a {kind} block is not allowed in a {role} turn.")
    if kind == "text" and not isinstance(block.get("text"), str):
        raise bad(f"{where}.text", "Field required: a string.")
    if kind == "tool_use" and not (
        isinstance(block.get("id"), str)
        and block["id"]
        and isinstance(block.get("name"), str)
        and isinstance(block.get("input"), dict)
    ):
        raise bad(where, "a tool_use block needs an id, a name and an input object.")
    if kind == "tool_result" and not (isinstance(block.get("tool_use_id"), str) and block["tool_use_id"]):
        raise bad(f"{where}.tool_use_id", "Field required: the id of the tool_use it answers.")
    if kind == "image":
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "file"):
            raise bad(f"{where}.source", "must be {type: base64|url|file, ...}.")
    return str(kind)
