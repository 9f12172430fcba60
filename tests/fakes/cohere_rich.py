"""Cohere v2's wire format for tools, tool results, images and JSON output, for the fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.fakes.openai_rich import content_text
from tests.fakes.rich import Plan, RichInput, data_uri_problem, fragments, object_schema_problem, tool_text

TOOL_PLAN = "I will call the tools to answer."


def rich_input(payload: dict[str, Any]) -> RichInput:
    rich = RichInput()
    for tool in payload.get("tools") or ():
        rich.tools.append((tool["function"]["name"], tool["function"]["parameters"]))
    rich.choice = {"REQUIRED": "required", "NONE": "none"}.get(payload.get("tool_choice"))
    tail = []
    for message in reversed(payload["messages"]):
        if message.get("role") != "tool":
            break
        tail.append(tool_text(message.get("content")))
    rich.tool_results = list(reversed(tail))
    fmt = payload.get("response_format") or {}
    if fmt.get("type") == "json_object":
        rich.json_schema = fmt.get("json_schema") or {"type": "object"}
    for message in payload["messages"]:
        if isinstance(message.get("content"), list):
            rich.images += sum(1 for p in message["content"] if p.get("type") == "image_url")
    return rich


def rich_problem(payload: dict[str, Any]) -> str | None:
    """What the real v2 API refuses in tools, tool turns, images and response_format."""
    tools = payload.get("tools")
    for i, tool in enumerate(tools or ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
            return f"tools[{i}]: type must be 'function' with a function name"
        if "parameters" not in function:
            return f"tools[{i}].function.parameters is required"
        problem = object_schema_problem(function["parameters"], f"tools[{i}].function.parameters")
        if problem:
            return problem
    if "tool_choice" in payload and (not tools or payload["tool_choice"] not in ("REQUIRED", "NONE")):
        return "tool_choice must be REQUIRED or NONE, and requires tools"
    if "parallel_tool_calls" in payload:
        return "unknown field: parameter 'parallel_tool_calls' is not a valid field"
    fmt = payload.get("response_format")
    if fmt is not None:
        if tools:
            return "response_format is not supported in combination with tools"
        if fmt.get("type") not in ("text", "json_object") or set(fmt) - {"type", "json_schema"}:
            return "response_format: type must be 'text' or 'json_object' (with an optional json_schema)"
    return _messages_problem(payload["messages"])


def _messages_problem(messages: list[dict[str, Any]]) -> str | None:
    called: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "tool" and message.get("tool_call_id") not in called:
            return f"messages[{i}]: tool_call_id {message.get('tool_call_id')!r} does not match any tool call"
        for call in message.get("tool_calls") or ():
            if role != "assistant" or not isinstance((call.get("function") or {}).get("arguments"), str):
                return f"messages[{i}].tool_calls: arguments must be a string"
            called.add(call.get("id"))
        if role == "assistant" and "content" not in message and not message.get("tool_calls"):
            return f"messages[{i}]: an assistant message needs content or tool_calls"
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            if part.get("type") == "image_url":
                problem = data_uri_problem((part.get("image_url") or {}).get("url"))
                if role != "user" or problem:
                    return f"messages[{i}].content[{j}]: {problem or 'images are only allowed in user messages'}"
            elif part.get("type") not in ("text", "document"):
                return f"messages[{i}].content[{j}]: unknown content type {part.get('type')!r}"
    return None


def prompt_tokens(payload: dict[str, Any], count: Any) -> int:
    return sum(count(content_text(m.get("content"))) for m in payload["messages"] if m.get("content"))


def answer_message(plan: Plan, words: list[str]) -> dict[str, Any]:
    if not plan.calls:
        return {"role": "assistant", "content": [{"type": "text", "text": " ".join(words)}]}
    return {
        "role": "assistant",
        "tool_plan": TOOL_PLAN,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in plan.calls
        ],
    }


def tool_events(plan: Plan) -> Iterator[tuple[str, dict[str, Any]]]:
    """tool-plan-delta, then per call tool-call-start (a single object, not a list), deltas and tool-call-end."""
    yield "tool-plan-delta", {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": TOOL_PLAN}}}
    for index, call in enumerate(plan.calls):
        start = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield (
            "tool-call-start",
            {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}},
        )
        for piece in fragments(call.arguments):
            yield (
                "tool-call-delta",
                {
                    "type": "tool-call-delta",
                    "index": index,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}},
                },
            )
        yield "tool-call-end", {"type": "tool-call-end", "index": index}
