"""OpenAI's chat wire format for the rich parts of a request and answer (shared by OpenAI, the HF router and TGI)."""

from __future__ import annotations

from typing import Any

import orjson

from llmgateway.providers.chat_types import (
    ImagePart,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
)
from llmgateway.providers.types import ChatRequest, Message


def message_out(message: Message) -> dict[str, Any]:
    """A neutral message as OpenAI's message object."""
    out: dict[str, Any] = {"role": message.role}
    if message.images:  # text-only parts carry Anthropic's cache_control, which OpenAI has no field for
        out["content"] = [part_out(part) for part in message.parts]
    elif message.tool_calls and not message.content:
        out["content"] = None
    else:
        out["content"] = message.content
    if message.tool_calls:
        out["tool_calls"] = [tool_call_out(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def part_out(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, Any] = {"url": part.url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def tool_call_out(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def tool_out(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def tool_choice_out(choice: ToolChoice) -> Any:
    if choice.mode == "function":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def response_format_out(response_format: ResponseFormat) -> dict[str, Any]:
    if response_format.type != "json_schema":
        return {"type": response_format.type}
    schema: dict[str, Any] = {"name": response_format.name or "response"}
    if response_format.description is not None:
        schema["description"] = response_format.description
    if response_format.schema is not None:
        schema["schema"] = response_format.schema
    if response_format.strict is not None:
        schema["strict"] = response_format.strict
    return {"type": "json_schema", "json_schema": schema}


def rich_fields(request: ChatRequest) -> dict[str, Any]:
    """The request's tools, tool choice, parallel flag and response format in OpenAI's fields."""
    body: dict[str, Any] = {}
    if request.tools:  # OpenAI refuses tool_choice and parallel_tool_calls without tools
        body["tools"] = [tool_out(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = tool_choice_out(request.tool_choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        body["response_format"] = response_format_out(request.response_format)
    return body


def tool_calls_in(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    """The tool calls of an answer's message; arguments that arrive as an object (old TGI) become JSON text."""
    raw = message.get("tool_calls")
    if isinstance(raw, dict):  # TGI 1.x sent one call, not a list
        raw = [raw]
    calls = []
    for item in raw or ():
        function = item.get("function") or {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json_text(arguments if arguments is not None else {})
        calls.append(ToolCall(str(item.get("id") or ""), function.get("name") or "", arguments))
    return tuple(calls)


def tool_call_deltas_in(delta: dict[str, Any]) -> tuple[ToolCallDelta, ...]:
    """The tool-call pieces of a streamed chunk's delta."""
    out = []
    for item in delta.get("tool_calls") or ():
        function = item.get("function") or {}
        arguments = function.get("arguments")
        out.append(
            ToolCallDelta(
                index=int(item.get("index") or 0),
                id=item.get("id") or None,
                name=function.get("name") or None,
                arguments=arguments if isinstance(arguments, str) else "",
            )
        )
    return tuple(out)


def json_text(value: Any) -> str:
    """Compact JSON text for a parsed value (tool inputs that providers send as objects)."""
    return orjson.dumps(value).decode()
