"""Anthropic's Messages wire format for tools, tool results, images and structured output, for the fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.fakes.rich import (
    Plan,
    RichInput,
    fragments,
    image_bytes_problem,
    object_schema_problem,
    tool_text,
)

CHOICE_TYPES = ("auto", "any", "tool", "none")
#: Models that have native structured output (`output_config.format`) in the fake, as at Anthropic.
NATIVE_JSON = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-opus-4-5")


def rich_input(payload: dict[str, Any]) -> RichInput:
    rich = RichInput()
    for tool in payload.get("tools") or ():
        rich.tools.append((tool["name"], tool["input_schema"]))
    choice = payload.get("tool_choice") or {}
    kind = choice.get("type")
    rich.choice = {"auto": "auto", "any": "required", "none": "none", "tool": choice.get("name")}.get(kind)
    rich.parallel = not choice.get("disable_parallel_tool_use")
    last = payload["messages"][-1]
    if last["role"] == "user" and isinstance(last["content"], list):
        rich.tool_results = [tool_text(b.get("content")) for b in last["content"] if b.get("type") == "tool_result"]
    fmt = (payload.get("output_config") or {}).get("format")
    if fmt:
        rich.json_schema = fmt["schema"]
    for message in payload["messages"]:
        if isinstance(message["content"], list):
            rich.images += sum(1 for b in message["content"] if b.get("type") == "image")
    return rich


def rich_problem(payload: dict[str, Any]) -> str | None:
    """What the real Messages API refuses in tools, tool_choice, blocks and output_config."""
    tools = payload.get("tools")
    names = set()
    for i, tool in enumerate(tools or ()):
        if not isinstance(tool, dict) or "input_schema" not in tool or "function" in tool:
            return f"tools.{i}.custom.input_schema: Field required"
        problem = object_schema_problem(tool["input_schema"], f"tools.{i}.custom.input_schema")
        if problem:
            return problem
        names.add(tool.get("name"))
    choice = payload.get("tool_choice")
    if choice is not None:
        if not tools:
            return "tool_choice: tool_choice may only be specified while providing tools."
        if choice.get("type") not in CHOICE_TYPES:
            return "tool_choice.type: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
        if choice["type"] == "tool" and choice.get("name") not in names:
            return f"tool_choice.name: Tool '{choice.get('name')}' not found in the provided tools"
    fmt = payload.get("output_config")
    if fmt is not None:
        if not str(payload["model"]).startswith(NATIVE_JSON):
            return f"output_config.format: structured outputs are not supported by the model {payload['model']}"
        if (fmt.get("format") or {}).get("type") != "json_schema" or not isinstance(fmt["format"].get("schema"), dict):
            return "output_config.format.schema: Field required"
    return _turns_problem(payload["messages"])


def _turns_problem(messages: list[dict[str, Any]]) -> str | None:
    open_calls: set[str] = set()
    for i, message in enumerate(messages):
        blocks = message["content"] if isinstance(message["content"], list) else []
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if open_calls and (message["role"] != "user" or set(results) != open_calls):
            return (
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(sorted(open_calls - set(results)))}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        if set(results) - open_calls:
            return (
                f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{sorted(set(results) - open_calls)[0]}. Each `tool_result` block must have a corresponding "
                "`tool_use` block in the previous message."
            )
        kinds = [b.get("type") for b in blocks]
        if results and any(kind != "tool_result" for kind in kinds[: len(results)]):
            return f"messages.{i}.content: tool_result blocks must come first in the user message content"
        open_calls = set()
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind == "tool_use":
                if message["role"] != "assistant" or not isinstance(block.get("input"), dict):
                    return f"messages.{i}.content.{j}.tool_use.input: Input should be a valid dictionary"
                open_calls.add(block.get("id"))
            elif kind == "image":
                problem = _image_problem(block.get("source") or {})
                if problem:
                    return f"messages.{i}.content.{j}.image.source.{problem}"
            elif kind not in ("text", "tool_result", "thinking", "redacted_thinking"):
                return f"messages.{i}.content.{j}: Input tag {kind!r} does not match any of the expected tags"
    return None


def _image_problem(source: dict[str, Any]) -> str | None:
    if source.get("type") == "url":
        url = source.get("url")
        return None if isinstance(url, str) and url.startswith(("https://", "http://")) else "url: invalid URL"
    if source.get("type") != "base64":
        return "type: Input tag does not match any of the expected tags: 'base64', 'url', 'file'"
    data = source.get("data") or ""
    if data.startswith("data:"):
        return "base64.data: must be raw base64 without a data: prefix"
    problem = image_bytes_problem(source.get("media_type"), data)
    return f"base64.{problem}" if problem else None


def answer_blocks(plan: Plan) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": plan.text}] if plan.text else []
    for call in plan.calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": json.loads(call.arguments)})
    return blocks


def tool_events(plan: Plan, first_index: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """content_block_start (tool_use, input {}), input_json_delta fragments (the first empty), content_block_stop."""
    for offset, call in enumerate(plan.calls):
        index = first_index + offset
        block = {"type": "tool_use", "id": call.id, "name": call.name, "caller": {"type": "direct"}, "input": {}}
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        for piece in ["", *fragments(call.arguments)]:
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
