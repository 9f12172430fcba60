"""Token estimation for when a provider reports no usage (and for admission-time reservations)."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from llmgateway.providers.chat_types import ImagePart, ToolCall
from llmgateway.providers.types import ChatRequest, Message

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
#: A fixed estimate per image: what OpenAI bills a 1024x1024 image at high detail (low detail is 85).
TOKENS_PER_IMAGE = 765
TOKENS_PER_LOW_DETAIL_IMAGE = 85
#: The framing each tool call or tool definition adds beyond its JSON.
TOKENS_PER_TOOL = 8


def estimate_text(text: str | None) -> int:
    """About four characters per token, never zero for non-empty text."""
    if not text:
        return 0
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def estimate_tool_calls(calls: Iterable[ToolCall]) -> int:
    return sum(estimate_text(call.name) + estimate_text(call.arguments) + TOKENS_PER_TOOL for call in calls)


def _estimate_message(message: Message) -> int:
    images = sum(
        TOKENS_PER_LOW_DETAIL_IMAGE if part.detail == "low" else TOKENS_PER_IMAGE
        for part in message.parts
        if isinstance(part, ImagePart)
    )
    return estimate_text(message.content) + images + estimate_tool_calls(message.tool_calls) + TOKENS_PER_MESSAGE


def estimate_messages(messages: Iterable[Message]) -> int:
    """Prompt tokens for a chat: text, images (a fixed estimate each), tool calls and per-message framing."""
    return sum(_estimate_message(m) for m in messages) + 2


def estimate_prompt(request: ChatRequest) -> int:
    """Prompt tokens for a whole request: its messages plus the tool definitions and response schema it sends."""
    total = estimate_messages(request.messages)
    for tool in request.tools:
        schema = orjson.dumps(tool.parameters) if tool.parameters is not None else b""
        total += estimate_text(tool.name) + estimate_text(tool.description) + len(schema) // CHARS_PER_TOKEN
        total += TOKENS_PER_TOOL
    fmt = request.response_format
    if fmt is not None and fmt.schema is not None:
        total += len(orjson.dumps(fmt.schema)) // CHARS_PER_TOKEN
    return total


def estimate_answer(text: str | None, calls: Iterable[ToolCall] = ()) -> int:
    """Completion tokens of an answer: its text and its tool calls."""
    return estimate_text(text) + estimate_tool_calls(calls)
