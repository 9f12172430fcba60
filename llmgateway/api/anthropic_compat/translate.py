"""Anthropic Messages request → the neutral chat request: turns, blocks, system, stops, user; bad input is a 400."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmgateway.errors import InvalidRequest
from llmgateway.providers.types import ChatRequest, Message

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
#: Fields of the Messages request the gateway reads itself; every other field reaches Anthropic untouched.
READ_FIELDS = frozenset({"model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p",
                         "top_k", "stream", "metadata", "tools", "tool_choice"})
#: Headers of the client's request that are forwarded to Anthropic upstreams only.
FORWARDED_HEADERS = ("anthropic-beta",)


@dataclass(frozen=True, slots=True)
class MessagesCall:
    """A parsed /v1/messages request: the neutral request, how to answer, and the untouched Anthropic body."""

    request: ChatRequest
    stream: bool = False
    native_body: dict[str, Any] = field(default_factory=dict)  # the client's body, for an Anthropic upstream
    native_headers: dict[str, str] = field(default_factory=dict)


def bad(param: str, message: str) -> InvalidRequest:
    """A 400 naming the field (Anthropic's `invalid_request_error`)."""
    return InvalidRequest(f"{param}: {message}", param=param)


def parse_messages_request(
    body: Any, headers: Mapping[str, str] | None = None, *, max_tokens_limit: int = 1_000_000,
    max_messages: int = 10_000,
) -> MessagesCall:
    """Validate a Messages body and translate it; raises InvalidRequest (400) before any upstream call."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not 1 <= len(model) <= 256:
        raise bad("model", "Field required: a model id (1 to 256 characters).")
    if "max_tokens" not in body:
        raise bad("max_tokens", "Field required.")
    max_tokens = body["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= max_tokens_limit:
        raise bad("max_tokens", f"must be an integer between 1 and {max_tokens_limit}.")
    messages = [*system_messages(body.get("system")), *conversation(body.get("messages"), max_messages)]
    request = ChatRequest(
        model=model,
        messages=tuple(messages),
        temperature=number(body, "temperature", 0.0, 1.0),
        max_tokens=max_tokens,
        top_p=number(body, "top_p", 0.0, 1.0),
        stop=stop_sequences(body.get("stop_sequences")),
        user=user_id(body.get("metadata")),
    )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "must be a boolean.")
    forwarded = {name: value for name in FORWARDED_HEADERS if (value := (headers or {}).get(name))}
    native = {name: value for name, value in body.items() if name != "model"}
    return MessagesCall(request=request, stream=bool(stream), native_body=native, native_headers=forwarded)


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
            raise bad(f"messages.{index}.role", "must be 'user' or 'assistant' (system goes in the top-level "
                      "`system` field).")
        out.extend(turn_messages(role, turn.get("content"), f"messages.{index}", tool_use_ids))
    return out


def turn_messages(role: str, content: Any, path: str, tool_use_ids: set[str]) -> list[Message]:
    """One turn: its text joined into one message (blocks only Anthropic reads are left to the native body)."""
    if isinstance(content, str):
        return [Message(role, content)]
    if not isinstance(content, list):
        raise bad(f"{path}.content", "must be a string or a list of content blocks.")
    texts: list[str] = []
    for index, block in enumerate(content):
        where = f"{path}.content.{index}"
        kind = check_block(block, role, where)
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            tool_use_ids.add(block["id"])
        elif kind == "tool_result" and block["tool_use_id"] not in tool_use_ids:
            raise bad(f"{where}.tool_use_id", f"no earlier tool_use block has the id {block['tool_use_id']!r}.")
    return [Message(role, "\n\n".join(texts))] if texts or not content else []


def check_block(block: Any, role: str, where: str) -> str:
    """The block's type, after checking the fields the gateway relies on."""
    if not isinstance(block, dict):
        raise bad(where, "must be a content block object.")
    kind = block.get("type")
    roles = BLOCK_ROLES.get(kind) if isinstance(kind, str) else None
    if roles is None:
        raise bad(f"{where}.type", f"unknown content block type {kind!r}; expected one of "
                  f"{', '.join(BLOCK_ROLES)}.")
    if role not in roles:
        raise bad(f"{where}.type", f"a {kind} block is not allowed in a {role} turn.")
    if kind == "text" and not isinstance(block.get("text"), str):
        raise bad(f"{where}.text", "Field required: a string.")
    if kind == "tool_use" and not (isinstance(block.get("id"), str) and block["id"] and
                                   isinstance(block.get("name"), str) and isinstance(block.get("input"), dict)):
        raise bad(where, "a tool_use block needs an id, a name and an input object.")
    if kind == "tool_result" and not (isinstance(block.get("tool_use_id"), str) and block["tool_use_id"]):
        raise bad(f"{where}.tool_use_id", "Field required: the id of the tool_use it answers.")
    if kind == "image":
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "file"):
            raise bad(f"{where}.source", "must be {type: base64|url|file, ...}.")
    return str(kind)
