"""The fake OpenAI's /v1/responses: Responses-API requests and answers (plain and SSE), with reasoning items.

Reasoning models answer with a `reasoning` item whose `encrypted_content` (asked for with `include`) must come
back byte for byte in a later request's input, as at OpenAI, so a gateway that alters it is caught.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.fakes.rich import Plan, RichInput, fragments, plan_answer, tool_text
from tests.fakes.server import count_tokens

ENCRYPTED = "gAAAAABoFakeEncryptedReasoning=="
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning", "item_reference")


def input_items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    raw = payload.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return raw if isinstance(raw, list) else []


def problem(payload: Any) -> tuple[str, str] | None:
    """(message, param) of what the real API would refuse."""
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
        return "Missing required parameter: 'model'.", "model"
    if not isinstance(payload.get("input"), (str, list)):
        return "Missing required parameter: 'input'.", "input"
    if "previous_response_id" in payload:  # the gateway keeps conversations itself: none are stored here
        return f"Previous response with id '{payload['previous_response_id']}' not found.", "previous_response_id"
    for index, item in enumerate(input_items(payload)):
        kind = item.get("type", "message")
        if kind not in ITEM_TYPES:
            return f"Invalid value: '{kind}'.", f"input[{index}].type"
        if kind == "reasoning" and item.get("encrypted_content") not in (None, ENCRYPTED):
            return "The encrypted content could not be decrypted or parsed.", f"input[{index}].encrypted_content"
    return None


def rich_input(payload: dict[str, Any]) -> RichInput:
    rich = RichInput()
    for tool in payload.get("tools") or ():
        rich.tools.append((tool["name"], tool.get("parameters") or {"type": "object", "properties": {}}))
    choice = payload.get("tool_choice")
    rich.choice = choice.get("name") if isinstance(choice, dict) else choice
    rich.parallel = payload.get("parallel_tool_calls") is not False
    tail = []
    for item in reversed(input_items(payload)):
        if item.get("type") != "function_call_output":
            break
        tail.append(tool_text(item.get("output")))
    rich.tool_results = list(reversed(tail))
    return rich


def prompt_tokens(payload: dict[str, Any]) -> int:
    total = count_tokens(payload.get("instructions") or "") if payload.get("instructions") else 0
    for item in input_items(payload):
        content = item.get("content") if "content" in item else item.get("output") or item.get("arguments") or ""
        total += count_tokens(content if isinstance(content, str) else tool_text(content) or "x")
    return total


def reasons(payload: dict[str, Any]) -> bool:
    return str(payload["model"]).startswith(("o", "gpt-5"))


def output_items(payload: dict[str, Any], plan: Plan, words: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reasons(payload):
        reasoning: dict[str, Any] = {"type": "reasoning", "id": "rs_fake1", "summary": []}
        if "reasoning.encrypted_content" in (payload.get("include") or ()):
            reasoning["encrypted_content"] = ENCRYPTED
        items.append(reasoning)
    if words or not plan.calls:
        items.append(
            {
                "type": "message",
                "id": "msg_fake1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": " ".join(words), "annotations": [], "logprobs": []}],
            }
        )
    for i, call in enumerate(plan.calls):
        items.append(
            {
                "type": "function_call",
                "id": f"fc_fake{i}",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
        )
    return items


def response_object(
    payload: dict[str, Any], status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": "resp_fake0001",
        "object": "response",
        "created_at": 1741290958,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": payload.get("instructions"),
        "model": payload["model"],
        "output": output,
        "parallel_tool_calls": True,
        "tools": payload.get("tools") or [],
        "tool_choice": "auto",
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": usage,
        "metadata": {},
        "store": payload.get("store", True),
    }


def usage_of(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def answer(payload: dict[str, Any], reply_text: str) -> tuple[Plan, list[str], int, dict[str, Any]]:
    """The plan, the words, the prompt tokens and the finished Response object."""
    plan = plan_answer(rich_input(payload), reply_text, "call_")
    words = plan.text.split()
    prompt = prompt_tokens(payload)
    completion = len(words) + sum(count_tokens(c.arguments) for c in plan.calls)
    body = response_object(payload, "completed", output_items(payload, plan, words), usage_of(prompt, completion))
    return plan, words, prompt, body


def events(payload: dict[str, Any], final: dict[str, Any]) -> Iterator[bytes]:
    """The Responses event sequence for a finished answer, sequence numbers from 0."""
    sequence = 0

    def event(kind: str, **data: Any) -> bytes:
        nonlocal sequence
        body = {"type": kind, "sequence_number": sequence, **data}
        sequence += 1
        return f"event: {kind}\ndata: {json.dumps(body)}\n\n".encode()

    started = response_object(payload, "in_progress", [], None)
    yield event("response.created", response=started)
    yield event("response.in_progress", response=started)
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            yield event(
                "response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []}
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            yield event(
                "response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part=part
            )
            text = item["content"][0]["text"]
            words = text.split()
            for j, word in enumerate(words):
                yield event(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=word if j == 0 else " " + word,
                    logprobs=[],
                )
            yield event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            )
            yield event(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part={**part, "text": text},
            )
        elif item["type"] == "function_call":
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for piece in fragments(item["arguments"]):
                yield event(
                    "response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=piece
                )
            yield event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
        else:
            yield event("response.output_item.added", output_index=index, item=item)
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=final)
