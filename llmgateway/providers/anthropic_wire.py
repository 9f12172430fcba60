"""Anthropic Messages translation of the rich chat parts: turns and blocks, tools, images, JSON output, answers."""

from __future__ import annotations

from typing import Any

import orjson

from llmgateway.errors import InvalidRequest, UnsupportedOperation
from llmgateway.providers.chat_types import ImagePart, ResponseFormat, TextPart, ToolCall, ToolChoice, ToolSpec
from llmgateway.providers.openai_wire import json_text
from llmgateway.providers.types import ChatRequest, Message

#: The one tool forced when JSON output is asked of a model without native structured output.
JSON_TOOL = "json_answer"
_EMPTY_OBJECT_SCHEMA = {"type": "object"}


def turns(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """User and assistant turns: system messages leave (they go to `system`), tool results become `tool_result`
    blocks in a user turn, and consecutive turns of one role merge (Anthropic alternates roles)."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        content = _content(message, index)
        if out and out[-1]["role"] == role:
            out[-1]["content"] = _joined(out[-1]["content"], content)
        else:
            out.append({"role": role, "content": content})
    return out


def _content(message: Message, index: int) -> str | list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}]
    if message.role == "assistant" and message.tool_calls:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
        for j, call in enumerate(message.tool_calls):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": _tool_input(call, f"messages.{index}.tool_calls.{j}.function.arguments"),
                }
            )
        return blocks
    if message.parts:
        return [_block(part) for part in message.parts]
    return message.content


def _joined(first: str | list[dict[str, Any]], second: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}"
    return _blocks(first) + _blocks(second)


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _block(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return _cached({"type": "text", "text": part.text}, part.cache_control)
    if part.is_inline:  # the surface checked the bytes are the media type the URI claims
        source = {"type": "base64", "media_type": part.media_type, "data": part.base64_data}
    else:
        source = {"type": "url", "url": part.url}
    return _cached({"type": "image", "source": source}, part.cache_control)


def _cached(block: dict[str, Any], cache_control: Any) -> dict[str, Any]:
    """A block with the client's prompt-cache breakpoint, when it set one."""
    if cache_control is not None:
        block["cache_control"] = dict(cache_control)
    return block


def system_out(messages: tuple[Message, ...]) -> str | list[dict[str, Any]] | None:
    """System messages joined as one string; as text blocks when one of them carries a cache breakpoint."""
    system = [m for m in messages if m.role == "system"]
    if not system:
        return None
    if not any(isinstance(p, TextPart) and p.cache_control for m in system for p in m.parts):
        return "\n\n".join(m.content for m in system)
    blocks: list[dict[str, Any]] = []
    for message in system:
        if message.parts:
            blocks.extend(_block(part) for part in message.parts if isinstance(part, TextPart))
        else:
            blocks.append({"type": "text", "text": message.content})
    return blocks


def _tool_input(call: ToolCall, place: str) -> dict[str, Any]:
    """A call's JSON arguments as the object Anthropic's `tool_use.input` must be."""
    try:
        value = orjson.loads(call.arguments) if call.arguments.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"{place}: must be a JSON string.", param=place) from exc
    if not isinstance(value, dict):
        raise InvalidRequest(f"{place}: must be a JSON object for Anthropic models.", param=place)
    return value


def tool_out(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name, "input_schema": {"type": "object", **tool.schema}}
    if tool.description is not None:
        out["description"] = tool.description
    if tool.strict is not None:
        out["strict"] = tool.strict
    return _cached(out, tool.cache_control)


def tool_choice_out(choice: ToolChoice | None, parallel: bool | None) -> dict[str, Any] | None:
    """auto/required/function/none as auto/any/tool/none; `parallel_tool_calls: false` as disable_parallel_tool_use."""
    mode = choice.mode if choice is not None else "auto"
    if mode == "none":
        return {"type": "none"}
    out: dict[str, Any] = {"type": {"auto": "auto", "required": "any", "function": "tool"}[mode]}
    if mode == "function":
        out["name"] = choice.name if choice is not None else None
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    elif choice is None:
        return None  # Anthropic's default is auto with parallel calls allowed: nothing to send
    return out


def tool_fields(request: ChatRequest, *, native_json: bool) -> tuple[dict[str, Any], bool]:
    """The body's tools, tool_choice and output_config, and whether JSON comes back through the forced tool."""
    body: dict[str, Any] = {}
    if request.tools:
        body["tools"] = [tool_out(tool) for tool in request.tools]
        choice = tool_choice_out(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    fmt = request.response_format
    if fmt is None or not fmt.wants_json:
        return body, False
    if fmt.type == "json_schema" and fmt.schema is not None and native_json:
        body["output_config"] = {"format": {"type": "json_schema", "schema": fmt.schema}}
        return body, False
    if request.tools:
        raise UnsupportedOperation(
            "This Anthropic model cannot combine tools with a JSON response_format; send one of them.",
            param="response_format",
        )
    body["tools"] = [_json_tool(fmt)]
    body["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
    return body, True


def _json_tool(fmt: ResponseFormat) -> dict[str, Any]:
    schema = fmt.schema if fmt.type == "json_schema" and fmt.schema is not None else _EMPTY_OBJECT_SCHEMA
    return {"name": JSON_TOOL, "description": fmt.description or "Return the answer as JSON.", "input_schema": schema}


def answer_parts(content: list[dict[str, Any]], *, json_tool: bool) -> tuple[str | None, tuple[ToolCall, ...]]:
    """An answer's text and tool calls; in forced-tool JSON mode the tool's input is the text."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            arguments = json_text(block.get("input") if block.get("input") is not None else {})
            if json_tool:
                texts = [arguments]  # only the forced tool's input is the answer
            else:
                calls.append(ToolCall(block.get("id") or "", block.get("name") or "", arguments))
    return ("".join(texts) if texts else None), tuple(calls)
