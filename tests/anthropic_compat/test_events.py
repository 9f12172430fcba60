"""The Anthropic event sequence written from neutral deltas, read back by the official SDK's accumulator."""

from __future__ import annotations

from llmgateway.api.anthropic_compat.events import MessageEvents
from llmgateway.errors import ServerError
from llmgateway.providers.types import ChatDelta, Usage
from tests.sse import sse_parse


def parse_events(chunks):
    """Each event's data; every event must have both lines and the same type in each."""
    events = sse_parse(chunks)
    assert all(event.name is not None and event.name == event.json()["type"] for event in events)
    return [event.json() for event in events]


def write(deltas, usage=Usage(12, 3)):
    writer = MessageEvents(request_id="0f1e2d3c-0000-4000-8000-000000000001", model="openai.gpt-4o", input_tokens=9)
    return parse_events(writer.events(deltas, lambda: usage))


def test_a_text_answer_has_the_exact_sequence():
    events = write(
        [
            ChatDelta(role="assistant"),
            ChatDelta(content="Hello"),
            ChatDelta(content=" there"),
            ChatDelta(finish_reason="stop"),
        ]
    )

    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0]["message"]
    assert start["id"] == "msg_0f1e2d3c000040008000000000000001" and start["model"] == "openai.gpt-4o"
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] == 9
    assert events[1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [e["delta"] for e in events[3:5]] == [
        {"type": "text_delta", "text": "Hello"},
        {"type": "text_delta", "text": " there"},
    ]
    assert events[6]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[6]["usage"]["output_tokens"] == 3 and events[6]["usage"]["input_tokens"] == 12


def test_length_becomes_max_tokens_and_an_empty_answer_still_has_a_text_block():
    events = write([ChatDelta(finish_reason="length")], Usage(5, 0))
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[4]["delta"]["stop_reason"] == "max_tokens"


def test_an_error_after_the_start_is_one_error_event_and_the_end():
    def failing():
        yield ChatDelta(content="par")
        raise ServerError("The openai provider failed (HTTP 500).")

    events = write(failing())
    assert events[-1] == {
        "type": "error",
        "request_id": "0f1e2d3c-0000-4000-8000-000000000001",
        "error": {"type": "api_error", "message": "The openai provider failed (HTTP 500)."},
    }
    assert "message_stop" not in [e["type"] for e in events]


def test_tool_calls_become_tool_use_blocks_with_input_json_deltas():
    from llmgateway.providers.chat_types import ToolCallDelta

    events = write(
        [
            ChatDelta(content="Checking."),
            ChatDelta(tool_calls=(ToolCallDelta(0, "call_a", "get_weather", ""),)),
            ChatDelta(tool_calls=(ToolCallDelta(0, arguments='{"city": '),)),
            ChatDelta(tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),)),
            ChatDelta(tool_calls=(ToolCallDelta(1, "call_b", "get_time", "{}"),)),
            ChatDelta(finish_reason="tool_calls"),
        ]
    )

    kinds = [(e["type"], e.get("index")) for e in events]
    assert kinds == [
        ("message_start", None),
        ("content_block_start", 0),
        ("ping", None),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert events[5]["content_block"] == {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}
    assert "".join(e["delta"]["partial_json"] for e in events[6:8]) == '{"city": "Paris"}'
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_native_events_are_relayed_as_they_came_with_the_gateway_model():
    upstream = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_up",
                    "model": "claude-x",
                    "content": [],
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    events = write(
        [ChatDelta(role="assistant", native=upstream[0]), *(ChatDelta(native=event) for event in upstream[1:])]
    )

    assert events[0]["message"]["model"] == "openai.gpt-4o" and events[0]["message"]["id"] == "msg_up"
    assert events[1:] == [data for _, data in upstream[1:]]
