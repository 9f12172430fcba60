"""Anthropic Messages requests → the neutral request, and the 400s for bad input (before any upstream call)."""

from __future__ import annotations

import pytest

from llmgateway.api.anthropic_compat.translate import parse_messages_request
from llmgateway.errors import InvalidRequest
from llmgateway.providers.types import Message

BASE = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


def parse(**changes):
    return parse_messages_request({**BASE, **changes})


def refused(body) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_messages_request(body)
    assert caught.value.status == 400
    return caught.value


def test_a_plain_request_becomes_the_neutral_request():
    call = parse(
        system=[{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}],
        stop_sequences=["END"],
        temperature=0.5,
        metadata={"user_id": "alice"},
        stream=True,
    )

    request = call.request
    assert request.model == "claude-sonnet-4-5" and request.max_tokens == 64
    assert request.messages == (Message("system", "Be terse."), Message("user", "Hi"))
    assert request.stop == ("END",) and request.temperature == 0.5
    assert request.user == "alice"  # metadata.user_id is the ledger's user
    assert call.stream is True


def test_text_blocks_of_a_turn_are_joined_and_turns_keep_their_roles():
    call = parse(
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "c"},
            {"role": "user", "content": "d"},
        ]
    )
    assert call.request.messages == (Message("user", "a\n\nb"), Message("assistant", "c"), Message("user", "d"))


def test_the_native_body_keeps_everything_but_the_model_untouched():
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "sig=="}
    body = {
        **BASE,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "Yo"}]},
            {"role": "user", "content": [{"type": "text", "text": "more", "cache_control": {"type": "ephemeral"}}]},
        ],
    }
    call = parse_messages_request(body, {"anthropic-beta": "interleaved-thinking-2025-05-14", "x-other": "no"})

    native = call.request.native
    assert native.api == "anthropic.messages"
    assert native.body == {k: v for k, v in body.items() if k != "model"}
    assert native.headers == {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    assert call.request.messages[1] == Message("assistant", "Yo")  # thinking is Anthropic's own


@pytest.mark.parametrize(
    "body, param",
    [
        ({k: v for k, v in BASE.items() if k != "max_tokens"}, "max_tokens"),
        ({**BASE, "max_tokens": 0}, "max_tokens"),
        ({**BASE, "max_tokens": True}, "max_tokens"),
        ({**BASE, "model": ""}, "model"),
        ({**BASE, "messages": []}, "messages"),
        ({**BASE, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({**BASE, "messages": [{"role": "user", "content": [{"type": "hologram"}]}]}, "messages.0.content.0.type"),
        (
            {
                **BASE,
                "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]}],
            },
            "messages.0.content.0.type",
        ),
        ({**BASE, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
        ({**BASE, "temperature": 3}, "temperature"),
        ({**BASE, "stop_sequences": "END"}, "stop_sequences"),
        ({**BASE, "metadata": {"user_id": 7}}, "metadata.user_id"),
        ({**BASE, "system": [{"type": "image"}]}, "system.0"),
        ({**BASE, "base_url": "http://evil.example"}, "base_url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(body, param):
    error = refused(body)
    assert error.param == param
    assert param in error.message


def test_a_tool_result_must_answer_an_earlier_tool_use():
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    answered = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "17C"}]},
    ]
    parse(messages=answered)  # accepted

    stray = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "17C"}]}]
    error = refused({**BASE, "messages": stray})
    assert error.param == "messages.0.content.0.tool_use_id" and "toolu_9" in error.message


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_tools_tool_turns_and_images_become_neutral_values():
    from llmgateway.providers.chat_types import ImagePart, TextPart, ToolCall, ToolChoice, ToolSpec

    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    call = parse(
        tools=[
            {"name": "get_weather", "description": "Weather", "input_schema": schema},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "17C"}]},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
    )

    request = call.request
    assert request.tools == (ToolSpec("get_weather", "Weather", schema),)  # server tools are Anthropic's own
    assert request.tool_choice == ToolChoice("required") and request.parallel_tool_calls is False
    user, assistant, result, follow_up = request.messages
    assert user.content == "Weather here?"
    assert user.parts == (TextPart("Weather here?"), ImagePart(f"data:image/png;base64,{PNG}"))
    assert assistant.content == "Checking."
    assert assistant.tool_calls == (ToolCall("toolu_1", "get_weather", '{"city":"Paris"}'),)
    assert (result.role, result.tool_call_id, result.content) == ("tool", "toolu_1", "17C")
    assert follow_up == Message("user", "And tomorrow?")


def test_an_image_whose_bytes_are_not_its_media_type_is_refused():
    jpeg_claim = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}}
    error = refused({**BASE, "messages": [{"role": "user", "content": [jpeg_claim]}]})
    assert error.param == "messages.0.content.0.source"


def test_named_tool_choice_and_structured_output():
    from llmgateway.providers.chat_types import ResponseFormat, ToolChoice

    call = parse(
        tool_choice={"type": "tool", "name": "get_weather"},
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
    )
    assert call.request.tool_choice == ToolChoice("function", "get_weather")
    assert call.request.response_format == ResponseFormat("json_schema", name="output", schema={"type": "object"})
