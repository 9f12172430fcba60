"""OpenAI's chat wire format for tools, images and JSON, shared by the fake OpenAI and the fake HF router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.fakes.rich import (
    TOOL_NAME,
    PlannedCall,
    RichInput,
    data_uri_problem,
    fragments,
    tool_text,
)

MAX_TOOLS = 128


def content_text(content: Any) -> str:
    """A message's text for token counting: a string, or the text parts of an array."""
    if isinstance(content, str):
        return content
    return " ".join(p.get("text") or "" for p in content or () if isinstance(p, dict) and p.get("type") == "text")


def rich_input(payload: dict[str, Any]) -> RichInput:
    """The neutral view of an OpenAI-shaped chat request."""
    rich = RichInput()
    for tool in payload.get("tools") or ():
        function = tool["function"]
        rich.tools.append((function["name"], function.get("parameters") or {"type": "object", "properties": {}}))
    choice = payload.get("tool_choice")
    rich.choice = choice["function"]["name"] if isinstance(choice, dict) else choice
    rich.parallel = payload.get("parallel_tool_calls") is not False
    messages = payload["messages"]
    tail = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        tail.append(tool_text(message.get("content")))
    rich.tool_results = list(reversed(tail))
    fmt = payload.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        rich.json_schema = fmt["json_schema"].get("schema") or {"type": "object"}
    elif fmt.get("type") == "json_object":
        rich.json_schema = {"type": "object"}
    for message in messages:
        if isinstance(message.get("content"), list):
            rich.images += sum(1 for p in message["content"] if isinstance(p, dict) and p.get("type") == "image_url")
    return rich


def rich_problem(payload: dict[str, Any]) -> tuple[str, str] | None:
    """What the real API refuses in tools, tool turns, image parts and response_format: (message, param)."""
    tools = payload.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
            return f"Invalid 'tools': array too long. Expected an array with maximum length {MAX_TOOLS}.", "tools"
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
                return f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function"
            if not TOOL_NAME.match(str(function.get("name") or "")):
                return f"Invalid 'tools[{i}].function.name'.", f"tools[{i}].function.name"
            if "parameters" in function and not isinstance(function["parameters"], dict):
                return f"Invalid type for 'tools[{i}].function.parameters'.", f"tools[{i}].function.parameters"
    names = {t["function"]["name"] for t in tools or ()}
    for field in ("tool_choice", "parallel_tool_calls"):
        if field in payload and not tools:
            return f"Invalid value for '{field}': only allowed when 'tools' are specified.", field
    choice = payload.get("tool_choice")
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name") not in names:
        return "Invalid value for 'tool_choice': no function with that name in 'tools'.", "tool_choice"
    if choice is not None and not isinstance(choice, dict) and choice not in ("none", "auto", "required"):
        return "Invalid value for 'tool_choice'.", "tool_choice"
    return _messages_problem(payload["messages"]) or _format_problem(payload.get("response_format"))


def _messages_problem(messages: list[dict[str, Any]]) -> tuple[str, str] | None:
    pending: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if pending and role != "tool":
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                f"{', '.join(sorted(pending))}",
                f"messages.[{i}].role",
            )
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            pending.discard(message["tool_call_id"])
        for j, call in enumerate(message.get("tool_calls") or ()):
            if role != "assistant" or not isinstance((call.get("function") or {}).get("arguments"), str):
                return f"Invalid 'messages[{i}].tool_calls[{j}]'.", f"messages.[{i}].tool_calls"
            pending.add(call.get("id"))
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            if part.get("type") == "image_url":
                if role != "user":
                    return (
                        f"Image URLs are only allowed for messages with role 'user', but this message with role "
                        f"'{role}' contains an image URL.",
                        f"messages.[{i}].content.[{j}].image_url",
                    )
                problem = data_uri_problem((part.get("image_url") or {}).get("url"))
                if problem:
                    return problem, f"messages.[{i}].content.[{j}].image_url.url"
            elif part.get("type") != "text":
                return f"Invalid content part type {part.get('type')!r}.", f"messages.[{i}].content.[{j}].type"
    if pending:
        return "An assistant message with 'tool_calls' must be followed by tool messages.", "messages"
    return None


def _format_problem(fmt: Any) -> tuple[str, str] | None:
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        return "Invalid value for 'response_format.type'.", "response_format.type"
    if fmt["type"] == "json_schema":
        inner = fmt.get("json_schema")
        if not isinstance(inner, dict) or not TOOL_NAME.match(str(inner.get("name") or "")):
            return "Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema"
    return None


def tool_call_message(calls: list[PlannedCall]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ],
        "refusal": None,
    }


def tool_call_deltas(calls: list[PlannedCall]) -> Iterator[dict[str, Any]]:
    """Per call: a first delta with index, id, type, name and empty arguments, then argument fragments."""
    for index, call in enumerate(calls):
        yield {
            "tool_calls": [
                {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            ]
        }
        for piece in fragments(call.arguments):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
