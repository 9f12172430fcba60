"""Token estimates (used when a provider reports no usage): images, tool calls and tool definitions count."""

from __future__ import annotations

from llmgateway.core.tokens import (
    TOKENS_PER_IMAGE,
    TOKENS_PER_LOW_DETAIL_IMAGE,
    estimate_answer,
    estimate_messages,
    estimate_prompt,
)
from llmgateway.providers.chat_types import ImagePart, TextPart, ToolCall, ToolSpec
from llmgateway.providers.types import ChatRequest, Message

TEXT = Message("user", "What is in this picture?")


def with_images(*details: str | None) -> Message:
    parts = (TextPart(TEXT.content), *(ImagePart("https://example.com/a.png", d) for d in details))
    return Message("user", TEXT.content, parts)


def test_each_image_adds_a_fixed_estimate():
    plain = estimate_messages((TEXT,))
    assert estimate_messages((with_images(None),)) == plain + TOKENS_PER_IMAGE
    assert estimate_messages((with_images("high", "low"),)) == plain + TOKENS_PER_IMAGE + TOKENS_PER_LOW_DETAIL_IMAGE


def test_tool_calls_results_and_definitions_count():
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    assistant = Message("assistant", "", tool_calls=(call,))
    assert estimate_messages((TEXT, assistant)) > estimate_messages((TEXT, Message("assistant", "")))
    tool = ToolSpec("get_weather", "Current weather", {"type": "object", "properties": {"city": {"type": "string"}}})
    bare = ChatRequest(model="m", messages=(TEXT,))
    assert estimate_prompt(ChatRequest(model="m", messages=(TEXT,), tools=(tool,))) > estimate_prompt(bare) + 8
    assert estimate_answer(None, (call,)) > 0 and estimate_answer("hi") == 1
