"""One contract for every provider: tool calls, tool results, images and JSON output survive translation both ways,
plain and streamed, and each fake upstream receives its own wire format (QUALITY R15)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from llmgateway.providers.chat_types import (
    ImagePart,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolCallAssembler,
    ToolChoice,
    ToolSpec,
)
from llmgateway.providers.types import ChatRequest, Message
from tests.fakes.received import RECEIVED

from .streams import drain, finish_of

WEATHER = ToolSpec(
    "get_weather",
    "Current weather",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec("get_time", None, {"type": "object", "properties": {"zone": {"type": "string"}}})
ASK = Message("user", "Weather and time in Paris?")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}},
    "required": ["city", "temp_c"],
    "additionalProperties": False,
}

UPSTREAMS = {
    "openai": ("make_openai", "openai_fake", "gpt-4o-mini", {}),
    "anthropic": ("make_anthropic", "anthropic_fake", "claude-sonnet-4-5-20250929", {}),
    "cohere": ("make_cohere", "cohere_fake", "command-a-03-2025", {}),
    "router": ("make_router", "router_fake", "meta-llama/Llama-3.1-8B-Instruct", {}),
    "tgi": ("make_tgi", "tgi_fake", "tgi", {"options": {"server": "tgi"}}),
}


@pytest.fixture(params=list(UPSTREAMS))
def upstream(request: pytest.FixtureRequest) -> tuple[str, Any, Any, str]:
    factory, fake, model, settings = UPSTREAMS[request.param]
    provider = request.getfixturevalue(factory)(**settings)
    return request.param, provider, request.getfixturevalue(fake), model


def tool_request(model: str, **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=(ASK,), tools=(WEATHER, TIME), **fields)


def expected_calls(name: str, fake: Any) -> list[Any]:
    return fake.plans[-1].calls


def test_tool_calls_plain(upstream):
    name, provider, fake, model = upstream
    response = provider.chat(tool_request(model))
    produced = expected_calls(name, fake)
    assert len(produced) == (1 if name == "tgi" else 2)  # TGI makes one call per answer
    assert response.finish_reason == "tool_calls"
    assert [(c.id, c.name) for c in response.tool_calls] == [(c.id, c.name) for c in produced]
    assert [json.loads(c.arguments) for c in response.tool_calls] == [json.loads(c.arguments) for c in produced]


def test_tool_calls_streamed_keep_distinct_indexes_ids_and_exact_arguments(upstream):
    name, provider, fake, model = upstream
    _text, deltas = drain(provider.stream_chat(tool_request(model)))
    assembler = ToolCallAssembler()
    for delta in deltas:
        assembler.add(delta.tool_calls)
    calls = assembler.calls()
    produced = expected_calls(name, fake)
    assert [(c.id, c.name, c.arguments) for c in calls] == [(c.id, c.name, c.arguments) for c in produced]
    indexes = sorted({d.index for delta in deltas for d in delta.tool_calls})
    assert indexes == list(range(len(produced)))
    firsts = [d for delta in deltas for d in delta.tool_calls if d.id]
    assert [d.index for d in firsts] == indexes  # the id (and name) come once per call, in its first piece
    assert finish_of(deltas) == ["tool_calls"]


def round_trip_request(model: str, calls: tuple[ToolCall, ...]) -> ChatRequest:
    results = tuple(Message("tool", f"result of {c.name}", tool_call_id=c.id) for c in calls)
    return ChatRequest(
        model=model,
        messages=(Message("system", "Use the tools."), ASK, Message("assistant", "", tool_calls=calls), *results),
        tools=(WEATHER, TIME),
    )


def test_tool_results_reach_each_upstream_in_its_format(upstream):
    name, provider, fake, model = upstream
    first = provider.chat(tool_request(model))
    final = provider.chat(round_trip_request(model, first.tool_calls))
    assert final.finish_reason == "stop" and not final.tool_calls
    assert final.content == "Results: " + " | ".join(f"result of {c.name}" for c in first.tool_calls)
    RECEIVED[name](fake.requests[-1]["json"]["messages"], first.tool_calls)


@pytest.mark.parametrize("streamed", [False, True])
def test_json_schema_answers_come_back_as_json_text(upstream, streamed):
    _name, provider, _fake, model = upstream
    request = ChatRequest(
        model=model,
        messages=(Message("user", "Weather in Paris as JSON"),),
        response_format=ResponseFormat("json_schema", "weather", ANSWER_SCHEMA, True),
    )
    if streamed:
        text, deltas = drain(provider.stream_chat(request))
        finish = finish_of(deltas)[-1]
    else:
        response = provider.chat(request)
        text, finish = response.content, response.finish_reason
    assert json.loads(text) == {"city": "Paris", "temp_c": 17}
    assert finish == "stop"


# -- the formats each upstream receives ------------------------------------------------------------
def test_anthropic_json_without_native_support_uses_one_forced_tool(make_anthropic, anthropic_fake):
    request = ChatRequest(
        model="claude-3-5-haiku-20241022",
        messages=(Message("user", "JSON please"),),
        response_format=ResponseFormat("json_schema", "weather", ANSWER_SCHEMA),
    )
    response = make_anthropic().chat(request)
    sent = anthropic_fake.requests[-1]["json"]
    assert sent["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert sent["tools"][0]["input_schema"] == ANSWER_SCHEMA and "output_config" not in sent
    assert json.loads(response.content) == {"city": "Paris", "temp_c": 17}
    assert response.finish_reason == "stop" and not response.tool_calls
    text, deltas = drain(make_anthropic().stream_chat(request))
    assert json.loads(text) == {"city": "Paris", "temp_c": 17} and finish_of(deltas) == ["stop"]
    assert not [d for d in deltas if d.tool_calls]


def test_anthropic_native_structured_output(make_anthropic, anthropic_fake):
    make_anthropic().chat(
        ChatRequest(
            model="claude-sonnet-4-5-20250929",
            messages=(Message("user", "JSON"),),
            response_format=ResponseFormat("json_schema", "w", ANSWER_SCHEMA),
        )
    )
    sent = anthropic_fake.requests[-1]["json"]
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}
    assert "tools" not in sent


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        (ToolChoice("auto"), False, {"type": "auto", "disable_parallel_tool_use": True}),
        (ToolChoice("required"), None, {"type": "any"}),
        (ToolChoice("function", "get_time"), None, {"type": "tool", "name": "get_time"}),
        (ToolChoice("none"), None, {"type": "none"}),
    ],
)
def test_anthropic_tool_definitions_and_choice(make_anthropic, anthropic_fake, choice, parallel, expected):
    make_anthropic().chat(tool_request("claude-sonnet-4-5-20250929", tool_choice=choice, parallel_tool_calls=parallel))
    sent = anthropic_fake.requests[-1]["json"]
    assert sent["tools"][0] == {
        "name": "get_weather",
        "description": "Current weather",
        "input_schema": WEATHER.parameters,
    }
    assert sent.get("tool_choice") == expected


@pytest.mark.parametrize(
    ("choice", "tools", "expected"),
    [
        (ToolChoice("required"), ["get_weather", "get_time"], "REQUIRED"),
        (ToolChoice("none"), ["get_weather", "get_time"], "NONE"),
        (ToolChoice("function", "get_time"), ["get_time"], "REQUIRED"),
    ],
)
def test_cohere_tool_choice(make_cohere, cohere_fake, choice, tools, expected):
    make_cohere().chat(tool_request("command-a-03-2025", tool_choice=choice))
    sent = cohere_fake.requests[-1]["json"]
    assert [t["function"]["name"] for t in sent["tools"]] == tools and sent["tool_choice"] == expected


IMAGE_MESSAGE = Message(
    "user",
    "What is this?",
    parts=(TextPart("What is this?"), ImagePart(PNG_URI, "high"), ImagePart("https://example.com/cat.png")),
)


def test_images_reach_anthropic_as_base64_and_url_blocks(make_anthropic, anthropic_fake):
    response = make_anthropic().chat(ChatRequest(model="claude-sonnet-4-5-20250929", messages=(IMAGE_MESSAGE,)))
    assert response.content.endswith("(saw 2 images)")
    assert anthropic_fake.requests[-1]["json"]["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
    ]


@pytest.mark.parametrize(
    "factory,fake,model",
    [("make_cohere", "cohere_fake", "command-a-03-2025"), ("make_openai", "openai_fake", "gpt-4o")],
)
def test_images_reach_openai_shaped_upstreams_as_image_url_parts(request, factory, fake, model):
    response = request.getfixturevalue(factory)().chat(ChatRequest(model=model, messages=(IMAGE_MESSAGE,)))
    assert response.content.endswith("(saw 2 images)")
    assert request.getfixturevalue(fake).requests[-1]["json"]["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG_URI, "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]


def test_an_image_over_the_provider_limit_is_refused_before_sending(make_anthropic, anthropic_fake):
    from llmgateway.errors import InvalidRequest

    big = "data:image/png;base64," + base64.b64encode(PNG + b"\x00" * (5 * 1024 * 1024)).decode()
    request = ChatRequest(
        model="claude-sonnet-4-5-20250929", messages=(ASK, Message("user", "", parts=(TextPart("x"), ImagePart(big))))
    )
    with pytest.raises(InvalidRequest) as caught:
        make_anthropic().chat(request)
    assert caught.value.param == "messages.1.content.1" and anthropic_fake.requests == []
