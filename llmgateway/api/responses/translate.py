"""Responses request → the neutral chat request: input items (and a stored conversation) become messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmgateway.api.schemas import FORBIDDEN_FIELDS
from llmgateway.errors import InvalidRequest, UnsupportedOperation
from llmgateway.providers.chat_types import ImagePart, ResponseFormat, TextPart, ToolCall, ToolChoice, ToolSpec
from llmgateway.providers.images import ImageError, check_image_url
from llmgateway.providers.types import ChatRequest, Message, NativeRequest

#: Message roles as the neutral model names them (`developer` is OpenAI's newer `system`).
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
TEXT_PARTS = frozenset({"input_text", "output_text"})
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
#: The native API an OpenAI upstream receives this surface's body through (reasoning items kept, see NativeRequest).
NATIVE_API = "openai.responses"
#: Body fields the gateway answers itself and never sends upstream.
GATEWAY_FIELDS = ("model", "stream", "previous_response_id")
#: Fields the gateway reads; other Responses fields are echoed or ignored, never forwarded blindly.
ECHOED_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "parallel_tool_calls": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "user": None,
    "metadata": {},
    "reasoning": {"effort": None, "summary": None},
    "truncation": "disabled",
}


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A validated /v1/responses body: its own input items, and what the answer echoes back."""

    model: str
    items: tuple[dict[str, Any], ...]
    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    echo: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the client's body, for an OpenAI upstream


def bad(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param=param)


def parse_responses_request(
    body: Any, *, max_tokens_limit: int = 1_000_000, max_items: int = 10_000
) -> ResponsesRequest:
    """Validate the body's shape (items checked one by one); raises InvalidRequest (400)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    forbidden = sorted(FORBIDDEN_FIELDS & set(body))
    if forbidden:
        raise bad(forbidden[0], "is not allowed: the gateway decides where requests go.")
    model = body.get("model")
    if not isinstance(model, str) or not 1 <= len(model) <= 256:
        raise bad("model", "is required: a model id (1 to 256 characters).")
    items = input_items(body.get("input"), max_items)
    instructions = optional(body, "instructions", str)
    budget = optional(body, "max_output_tokens", int)
    if budget is not None and not 1 <= budget <= max_tokens_limit:
        raise bad("max_output_tokens", f"must be between 1 and {max_tokens_limit}.")
    temperature, top_p = optional(body, "temperature", float), optional(body, "top_p", float)
    if temperature is not None and not 0 <= temperature <= 2:
        raise bad("temperature", "must be between 0 and 2.")
    if top_p is not None and not 0 <= top_p <= 1:
        raise bad("top_p", "must be between 0 and 1.")
    previous = optional(body, "previous_response_id", str)
    metadata = optional(body, "metadata", dict)
    user = optional(body, "user", str) or optional(body, "safety_identifier", str)
    echo = {
        name: body.get(name, default) if body.get(name) is not None else default
        for name, default in ECHOED_DEFAULTS.items()
    }
    store = optional(body, "store", bool)
    return ResponsesRequest(
        model=model,
        items=items,
        instructions=instructions,
        max_output_tokens=budget,
        temperature=temperature,
        top_p=top_p,
        user=user[:256] if user else None,
        metadata=metadata,
        stream=bool(optional(body, "stream", bool)),
        store=True if store is None else store,
        previous_response_id=previous or None,
        tools=function_tools(body.get("tools")),
        tool_choice=choice(body.get("tool_choice")),
        parallel_tool_calls=optional(body, "parallel_tool_calls", bool),
        response_format=text_format(body.get("text")),
        echo=echo,
        raw=body,
    )


def function_tools(raw: Any) -> tuple[ToolSpec, ...]:
    """Flat function tools; built-in tools (web_search, file_search, …) are OpenAI's own and refused."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad("tools", "must be a list of tools.")
    out = []
    for index, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise bad(f"tools.{index}", "must be a tool object.")
        if tool.get("type") != "function":
            raise UnsupportedOperation(
                f"tools.{index}.type: only function tools can be routed to any provider (got {tool.get('type')!r}).",
                param=f"tools.{index}.type",
            )
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise bad(f"tools.{index}.name", "is required.")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise bad(f"tools.{index}.parameters", "must be a JSON Schema object.")
        description, strict = tool.get("description"), tool.get("strict")
        out.append(
            ToolSpec(
                tool["name"],
                description if isinstance(description, str) else None,
                parameters,
                strict if isinstance(strict, bool) else None,
            )
        )
    return tuple(out)


def choice(raw: Any) -> ToolChoice | None:
    """`none` / `auto` / `required`, or the flat `{type: function, name}`."""
    if raw is None:
        return None
    if raw in ("none", "auto", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict) and raw.get("type") == "function" and isinstance(raw.get("name"), str):
        return ToolChoice("function", raw["name"])
    raise bad("tool_choice", "must be none, auto, required or {type: 'function', name}.")


def text_format(raw: Any) -> ResponseFormat | None:
    """`text.format`: text, json_object, or json_schema with name/schema beside the type."""
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind == "json_schema" and isinstance(fmt.get("schema"), dict):
        name, description, strict = fmt.get("name"), fmt.get("description"), fmt.get("strict")
        return ResponseFormat(
            "json_schema",
            name=name if isinstance(name, str) else "output",
            schema=fmt["schema"],
            strict=strict if isinstance(strict, bool) else None,
            description=description if isinstance(description, str) else None,
        )
    raise bad("text.format", "must be {type: text}, {type: json_object} or {type: json_schema, name, schema}.")


KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object"}


def optional(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise bad(name, f"must be {KIND_NAMES[kind]}.")
    return value


def input_items(raw: Any, max_items: int) -> tuple[dict[str, Any], ...]:
    """`input` as items: a string is one user message; every item's type and fields are checked."""
    if isinstance(raw, str):
        return ({"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]},)
    if not isinstance(raw, list) or not raw:
        raise bad("input", "is required: a string or a non-empty list of items.")
    if len(raw) > max_items:
        raise bad("input", f"must hold at most {max_items} items.")
    return tuple(check_item(item, f"input.{index}") for index, item in enumerate(raw))


def check_item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise bad(where, "must be an item object.")
    kind = item.get("type", "message" if "role" in item else None)
    if kind not in ITEM_TYPES:
        raise bad(f"{where}.type", f"unknown item type {kind!r}; expected one of {', '.join(ITEM_TYPES)}.")
    if kind == "message":
        if item.get("role") not in ROLES:
            raise bad(f"{where}.role", f"must be one of {', '.join(ROLES)}.")
        content = item.get("content")
        if not isinstance(content, (str, list)):
            raise bad(f"{where}.content", "must be a string or a list of content parts.")
        for index, part in enumerate(content if isinstance(content, list) else ()):
            check_part(part, f"{where}.content.{index}")
        return {**item, "type": "message"}
    if kind in ("function_call", "function_call_output") and not (
        isinstance(item.get("call_id"), str) and item["call_id"]
    ):
        raise bad(f"{where}.call_id", "is required.")
    if kind == "function_call" and not (isinstance(item.get("name"), str) and isinstance(item.get("arguments"), str)):
        raise bad(where, "a function_call needs a name and its arguments as a JSON string.")
    if kind == "function_call_output":
        output = item.get("output")
        if not isinstance(output, (str, list)):
            raise bad(f"{where}.output", "is required: a string or a list of content parts.")
        for index, part in enumerate(output if isinstance(output, list) else ()):
            check_part(part, f"{where}.output.{index}")
    return item


def check_part(part: Any, where: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in TEXT_PARTS:
        if not isinstance(part.get("text"), str):
            raise bad(f"{where}.text", "is required: a string.")
        return
    if kind == "refusal":
        return
    if kind == "input_image":
        if not isinstance(part.get("image_url"), str):
            raise bad(f"{where}.image_url", "is required: an https URL or a data: URI (file ids are OpenAI's own).")
        try:
            check_image_url(part["image_url"])
        except ImageError as exc:
            raise bad(f"{where}.image_url", str(exc)) from exc
        return
    raise bad(
        f"{where}.type",
        f"unknown content part type {kind!r}; expected input_text, input_image, output_text or refusal.",
    )


def chat_request(parsed: ResponsesRequest, history: Sequence[dict[str, Any]] = ()) -> ChatRequest:
    """The neutral request: instructions first, then the stored conversation, then this request's items.

    A `function_call_output` must answer a `function_call` earlier in that conversation (400 otherwise).
    """
    messages: list[Message] = []
    if parsed.instructions:
        messages.append(Message("system", parsed.instructions))
    call_ids: set[str] = set()
    offset = len(history)
    for index, item in enumerate((*history, *parsed.items)):
        item_messages(item, f"input.{index - offset}", call_ids, messages)
    return ChatRequest(
        model=parsed.model,
        messages=tuple(messages),
        temperature=parsed.temperature,
        max_tokens=parsed.max_output_tokens,
        top_p=parsed.top_p,
        user=parsed.user,
        tools=parsed.tools,
        tool_choice=parsed.tool_choice,
        parallel_tool_calls=parsed.parallel_tool_calls,
        response_format=parsed.response_format,
        native=native_request(parsed, history),
    )


def native_request(parsed: ResponsesRequest, history: Sequence[dict[str, Any]]) -> NativeRequest:
    """The client's body for an OpenAI upstream, with the stored conversation spelled out in `input`."""
    body = {k: v for k, v in parsed.raw.items() if k not in GATEWAY_FIELDS}
    return NativeRequest(NATIVE_API, {**body, "input": [*history, *parsed.items]})


def item_messages(item: dict[str, Any], where: str, call_ids: set[str], messages: list[Message]) -> None:
    """Append one item: function calls join the assistant message before them, outputs become tool messages."""
    kind = item.get("type", "message")
    if kind == "message":
        messages.append(message_of(ROLES[item["role"]], item["content"]))
    elif kind == "function_call":
        call_ids.add(item["call_id"])
        call = ToolCall(item["call_id"], item["name"], item["arguments"])
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant":
            messages[-1] = Message("assistant", last.content, parts=last.parts, tool_calls=(*last.tool_calls, call))
        else:
            messages.append(Message("assistant", "", tool_calls=(call,)))
    elif kind == "function_call_output":
        if item["call_id"] not in call_ids:
            raise bad(f"{where}.call_id", f"no function_call with call_id {item['call_id']!r} precedes this output.")
        output = item["output"]
        text = output if isinstance(output, str) else message_of("tool", output).content
        messages.append(Message("tool", text, tool_call_id=item["call_id"]))
    # reasoning items mean something to OpenAI only


def message_of(role: str, content: str | list[dict[str, Any]]) -> Message:
    """A message from a string or parts: text parts joined, images kept in order."""
    if isinstance(content, str):
        return Message(role, content)
    parts: list[TextPart | ImagePart] = []
    for part in content:
        if part.get("type") in TEXT_PARTS:
            parts.append(TextPart(part["text"]))
        elif part.get("type") == "input_image":
            parts.append(ImagePart(part["image_url"], part.get("detail")))
    text = "\n".join(part.text for part in parts if isinstance(part, TextPart))
    has_image = any(isinstance(part, ImagePart) for part in parts)
    return Message(role, text, parts=tuple(parts) if has_image else ())
