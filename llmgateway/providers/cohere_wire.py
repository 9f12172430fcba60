"""Cohere v2 translation of the rich chat parts: messages, tools, tool choice, images, JSON output, answers."""

from __future__ import annotations

from typing import Any

from llmgateway.errors import UnsupportedOperation
from llmgateway.providers.chat_types import ToolCall, ToolSpec
from llmgateway.providers.openai_wire import json_text, part_out, tool_call_out
from llmgateway.providers.types import ChatRequest, Message


def message_out(message: Message) -> dict[str, Any]:
    """One message: images as `image_url` parts (Cohere's shape is OpenAI's), tool results as `role: tool`."""
    out: dict[str, Any] = {"role": message.role}
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["content"] = message.content
        return out
    if message.images:  # text-only parts carry Anthropic's cache_control, which Cohere has no field for
        out["content"] = [part_out(part) for part in message.parts]
    elif message.content or not message.tool_calls:
        out["content"] = message.content
    if message.tool_calls:
        out["tool_calls"] = [tool_call_out(call) for call in message.tool_calls]
    return out


def tool_out(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.schema}  # `parameters` is required
    if tool.description is not None:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def rich_fields(request: ChatRequest) -> dict[str, Any]:
    """tools (a named choice sends only that tool, REQUIRED), tool_choice, strict_tools and response_format.

    Cohere has no parallel-calls flag; `parallel_tool_calls` is not expressible and is left out."""
    body: dict[str, Any] = {}
    choice = request.tool_choice
    if request.tools:
        tools = request.tools
        if choice is not None and choice.mode == "function":
            tools = tuple(tool for tool in tools if tool.name == choice.name)
        body["tools"] = [tool_out(tool) for tool in tools]
        if any(tool.strict for tool in tools):
            body["strict_tools"] = True
        if choice is not None and choice.mode in ("required", "function"):
            body["tool_choice"] = "REQUIRED"
        elif choice is not None and choice.mode == "none":
            body["tool_choice"] = "NONE"
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        if request.tools:
            raise UnsupportedOperation(
                "Cohere cannot combine tools with a JSON response_format; send one of them.", param="response_format"
            )
        out: dict[str, Any] = {"type": "json_object"}
        if fmt.type == "json_schema" and fmt.schema is not None:
            out["json_schema"] = fmt.schema  # the schema itself, without OpenAI's name/strict wrapper
        body["response_format"] = out
    return body


def answer_parts(message: dict[str, Any]) -> tuple[str | None, tuple[ToolCall, ...]]:
    """The answer's text (its `tool_plan` is reasoning, not content) and tool calls."""
    texts = [block["text"] for block in message.get("content") or () if block.get("type") == "text"]
    calls = []
    for item in message.get("tool_calls") or ():
        function = item.get("function") or {}
        arguments = function.get("arguments")
        calls.append(
            ToolCall(
                item.get("id") or "",
                function.get("name") or "",
                arguments if isinstance(arguments, str) else json_text(arguments or {}),
            )
        )
    return ("".join(texts) if texts else None), tuple(calls)


def stream_tool_call(delta: dict[str, Any]) -> dict[str, Any]:
    """The single tool-call object of a `tool-call-start` / `tool-call-delta` event (not a list, in streams)."""
    calls = (delta.get("message") or {}).get("tool_calls")
    if isinstance(calls, list):
        calls = calls[0] if calls else {}
    return calls if isinstance(calls, dict) else {}
