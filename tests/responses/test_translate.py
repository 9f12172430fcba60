"""Responses requests → the neutral request; stored history, instructions and the 400s for bad items."""

from __future__ import annotations

import pytest

from llmgateway.api.responses.translate import chat_request, parse_responses_request
from llmgateway.errors import InvalidRequest
from llmgateway.providers.types import Message


def test_a_string_input_is_one_user_message_after_the_instructions():
    parsed = parse_responses_request(
        {"model": "gpt-4o", "input": "Hi", "instructions": "Be terse.", "max_output_tokens": 50, "temperature": 0}
    )
    request = chat_request(parsed)
    assert request.messages == (Message("system", "Be terse."), Message("user", "Hi"))
    assert request.max_tokens == 50 and request.temperature == 0.0
    assert parsed.store is True and parsed.stream is False
    assert parsed.echo["instructions"] == "Be terse." and parsed.echo["tools"] == []


def test_items_and_history_become_messages_in_order():
    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "status": "completed",
            "content": [{"type": "output_text", "text": "two", "annotations": []}],
        },
    ]
    parsed = parse_responses_request(
        {
            "model": "m",
            "input": [
                {"role": "developer", "content": "rules"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "three"}]},
            ],
        }
    )
    request = chat_request(parsed, history)
    assert request.messages == (
        Message("user", "one"),
        Message("assistant", "two"),
        Message("system", "rules"),
        Message("user", "three"),
    )


def test_function_call_output_must_answer_a_known_call():
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "call_1", "output": "17C"}
    chat_request(parse_responses_request({"model": "m", "input": [call, output]}))  # accepted
    chat_request(parse_responses_request({"model": "m", "input": [output]}), [call])  # answered from history

    with pytest.raises(InvalidRequest) as caught:
        chat_request(parse_responses_request({"model": "m", "input": [{**output, "call_id": "call_9"}]}))
    assert caught.value.param == "input.0.call_id" and "call_9" in caught.value.message


@pytest.mark.parametrize(
    "body, param",
    [
        ({"input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}, "input.0.type"),
        ({"model": "m", "input": [{"type": "web_search_call"}]}, "input.0.type"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input.0.role"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input.0.content.0.type"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input.0.call_id"),
        ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "x", "store": "yes"}, "store"),
        ({"model": "m", "input": "x", "temperature": 9}, "temperature"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_responses_request(body)
    assert caught.value.param == param


def test_function_calls_outputs_tools_and_formats_become_neutral_values():
    from llmgateway.providers.chat_types import ImagePart, ResponseFormat, TextPart, ToolCall, ToolChoice, ToolSpec

    png = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
        "RU5ErkJggg=="
    )
    parsed = parse_responses_request(
        {
            "model": "m",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Weather?"},
                        {"type": "input_image", "image_url": png, "detail": "low"},
                    ],
                },
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
                {"role": "assistant", "content": "Checking."},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
                {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "17C"},
                {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "3C"}]},
            ],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "parallel_tool_calls": False,
            "text": {
                "format": {"type": "json_schema", "name": "weather", "schema": {"type": "object"}, "strict": True}
            },
        }
    )
    request = chat_request(parsed)

    assert request.tools == (ToolSpec("get_weather", None, {"type": "object"}, True),)
    assert request.tool_choice == ToolChoice("function", "get_weather") and request.parallel_tool_calls is False
    assert request.response_format == ResponseFormat("json_schema", "weather", {"type": "object"}, True)
    user, assistant, first, second = request.messages
    assert user.parts == (TextPart("Weather?"), ImagePart(png, "low"))
    assert assistant.content == "Checking." and assistant.tool_calls == (
        ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
        ToolCall("call_2", "get_weather", '{"city":"Oslo"}'),
    )
    assert (first.role, first.tool_call_id, first.content) == ("tool", "call_1", "17C")
    assert (second.tool_call_id, second.content) == ("call_2", "3C")


def test_built_in_tools_are_refused_as_unsupported():
    from llmgateway.errors import UnsupportedOperation

    with pytest.raises(UnsupportedOperation) as caught:
        parse_responses_request({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})
    assert caught.value.param == "tools.0.type"
