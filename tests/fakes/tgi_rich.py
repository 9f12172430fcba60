"""TGI's departures from OpenAI's chat format for tools and JSON grammars, for the fake in TGI mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.fakes.openai_rich import rich_input as openai_rich_input
from tests.fakes.rich import Plan, RichInput, data_uri_problem, fragments


def rich_input(payload: dict[str, Any]) -> RichInput:
    """As OpenAI, but `response_format` is adjacently tagged (`{"type", "value"}`) and one call is made at most."""
    body = {k: v for k, v in payload.items() if k != "response_format"}
    rich = openai_rich_input(body)
    rich.parallel = False
    fmt = payload.get("response_format")
    if fmt is not None:
        value = fmt["value"]
        rich.json_schema = value.get("schema", value) if fmt["type"] == "json_schema" else value
    return rich


def tgi_problem(payload: dict[str, Any]) -> str | None:
    """What TGI answers 422 to: tools with a grammar, a grammar without `value`, bad image URLs."""
    fmt = payload.get("response_format")
    if fmt is not None:
        if payload.get("tools"):
            return "Grammar and tools are mutually exclusive"
        if fmt.get("type") not in ("json", "json_object", "json_schema", "regex") or "value" not in fmt:
            return "Failed to deserialize the JSON body into the target type: response_format: missing field `value`"
    for message in payload["messages"]:
        for part in message.get("content") if isinstance(message.get("content"), list) else ():
            if part.get("type") == "image_url":
                problem = data_uri_problem((part.get("image_url") or {}).get("url"))
                if problem:
                    return f"Input validation error: {problem}"
    return None


def answer_message(plan: Plan) -> dict[str, Any]:
    """One call with id "0", arguments a JSON string, and no `content` key."""
    call = plan.calls[0]
    function = {"description": None, "name": call.name, "arguments": call.arguments}
    return {"role": "assistant", "tool_calls": [{"id": "0", "type": "function", "function": function}]}


def tool_deltas(plan: Plan) -> Iterator[dict[str, Any]]:
    """Every chunk repeats index 0 and id "0"; the first carries the name, later ones `name: null`."""
    call = plan.calls[0]
    for i, piece in enumerate(fragments(call.arguments)):
        function = {"name": call.name if i == 0 else None, "arguments": piece}
        yield {"role": "assistant", "tool_calls": [{"index": 0, "id": "0", "type": "function", "function": function}]}
