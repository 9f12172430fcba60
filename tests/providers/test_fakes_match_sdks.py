"""The fake Anthropic and Cohere upstreams checked against the official SDKs: the SDK's requests pass the fakes'
validation, and the fakes' answers (tool use, images, JSON; plain and streamed) parse into the SDK's own types.
The SDKs only ever talk to the fakes on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import TypeAdapter

anthropic = pytest.importorskip("anthropic")
cohere = pytest.importorskip("cohere")

WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def claude(anthropic_fake):
    client = anthropic.Anthropic(
        api_key=anthropic_fake.api_key,
        base_url=anthropic_fake.url,
        max_retries=0,
        default_headers={"x-api-key": anthropic_fake.api_key, "anthropic-version": "2023-06-01"},
    )
    yield client
    client.close()


@pytest.fixture
def command(cohere_fake):
    client = cohere.ClientV2(api_key=cohere_fake.api_key, base_url=cohere_fake.url, timeout=10)
    yield client


def test_anthropic_tool_use_answer_is_a_sdk_message(claude, anthropic_fake):
    message = claude.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=100, messages=ASK, tools=[WEATHER])
    anthropic.types.Message.model_validate(message.model_dump())
    calls = [block for block in message.content if block.type == "tool_use"]
    assert message.stop_reason == "tool_use" and len(calls) == 2
    assert [json.dumps(c.input, separators=(", ", ": ")) for c in calls] == [
        p.arguments for p in anthropic_fake.plans[-1].calls
    ]
    follow_up = [
        *ASK,
        {"role": "assistant", "content": [c.model_dump(exclude={"caller"}, exclude_none=True) for c in calls]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c.id, "content": "17C"} for c in calls]},
    ]
    final = claude.messages.create(
        model="claude-sonnet-4-5-20250929", max_tokens=100, messages=follow_up, tools=[WEATHER]
    )
    assert final.content[0].text == "Results: 17C | 17C"


def test_anthropic_tool_use_stream_accumulates_in_the_sdk(claude, anthropic_fake):
    adapter = TypeAdapter(anthropic.types.RawMessageStreamEvent)
    with claude.messages.stream(
        model="claude-sonnet-4-5-20250929", max_tokens=100, messages=ASK, tools=[WEATHER]
    ) as stream:
        for event in stream:
            if event.type in ("message_start", "content_block_start", "content_block_delta", "message_delta"):
                adapter.validate_python(event.model_dump())
        final = stream.get_final_message()
    inputs = [block.input for block in final.content if block.type == "tool_use"]
    assert inputs == [json.loads(p.arguments) for p in anthropic_fake.plans[-1].calls]
    assert final.stop_reason == "tool_use"


def test_anthropic_images_and_structured_output(claude):
    content = [
        {"type": "text", "text": "What is it?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    message = claude.messages.create(
        model="claude-sonnet-4-5-20250929", max_tokens=50, messages=[{"role": "user", "content": content}]
    )
    assert message.content[0].text.endswith("(saw 1 images)")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    answer = claude.messages.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=50,
        messages=ASK,
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert json.loads(answer.content[0].text) == {"city": "Paris"}


def test_cohere_tool_calls_plain_and_streamed_are_sdk_types(command, cohere_fake):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["input_schema"]}}]
    response = command.chat(model="command-a-03-2025", messages=ASK, tools=tools)
    TypeAdapter(cohere.V2ChatResponse).validate_python(response.dict())
    assert response.finish_reason == "TOOL_CALL"
    assert [c.function.arguments for c in response.message.tool_calls] == [
        p.arguments for p in cohere_fake.plans[-1].calls
    ]

    events = list(command.chat_stream(model="command-a-03-2025", messages=ASK, tools=tools))
    kinds = [type(e).__name__ for e in events]
    assert "ToolCallStartV2ChatStreamResponse" in kinds and "ToolCallDeltaV2ChatStreamResponse" in kinds
    arguments: dict[int, str] = {}
    for event in events:
        if event.type in ("tool-call-start", "tool-call-delta"):
            arguments[event.index] = arguments.get(event.index, "") + event.delta.message.tool_calls.function.arguments
    assert list(arguments.values()) == [p.arguments for p in cohere_fake.plans[-1].calls]


def test_cohere_images_and_json(command):
    content = [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    response = command.chat(model="command-a-vision-07-2025", messages=[{"role": "user", "content": content}])
    assert response.message.content[0].text.endswith("(saw 1 images)")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    answer = command.chat(
        model="command-a-03-2025", messages=ASK, response_format={"type": "json_object", "json_schema": schema}
    )
    assert json.loads(answer.message.content[0].text) == {"city": "Paris"}
