"""The Responses event sequence written from neutral deltas: order, sequence numbers, identities."""

from __future__ import annotations

from llmgateway.api.responses.events import ResponseEvents
from llmgateway.api.responses.render import ResponseFrame
from llmgateway.api.responses.translate import parse_responses_request
from llmgateway.errors import GatewayTimeout
from llmgateway.providers.types import ChatDelta, Usage
from tests.sse import sse_parse

REQUEST_ID = "0f1e2d3c-0000-4000-8000-000000000002"


def parse_events(chunks):
    events = sse_parse(chunks)
    assert all(event.name == event.json()["type"] for event in events)
    return [event.json() for event in events]


def run(deltas, usage=Usage(7, 2), on_final_list=None, **body):
    parsed = parse_responses_request({"model": "anthropic.claude-x", "input": "Hi", **body})
    writer = ResponseEvents(ResponseFrame(REQUEST_ID, "anthropic.claude-x", parsed))
    on_final = on_final_list.append if on_final_list is not None else None
    return writer, parse_events(writer.events(deltas, lambda: usage, on_final))


def test_a_text_answer_has_the_exact_sequence_with_dense_sequence_numbers():
    writer, events = run(
        [
            ChatDelta(role="assistant"),
            ChatDelta(content="Hi"),
            ChatDelta(content=" there!"),
            ChatDelta(finish_reason="stop"),
        ],
        instructions="Be nice.",
    )

    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert ids == {"resp_0f1e2d3c000040008000000000000002"}
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["usage"] is None
    assert events[0]["response"]["instructions"] == "Be nice."
    assert events[6]["text"] == "Hi there!" and events[4]["logprobs"] == []
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"] == [events[8]["item"]]
    assert final["output"][0]["content"][0]["text"] == "Hi there!"
    assert final["usage"]["input_tokens"] == 7 and final["usage"]["total_tokens"] == 9
    assert writer.final == final


def test_a_length_stop_is_response_incomplete():
    _, events = run([ChatDelta(content="cut"), ChatDelta(finish_reason="length")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_mid_stream_is_response_failed_with_the_same_id():
    def failing():
        yield ChatDelta(content="Hi")
        raise GatewayTimeout()

    writer, events = run(failing())
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "timeout"
    assert events[-1]["response"]["id"] == events[0]["response"]["id"]
    assert writer.final is None


def test_function_calls_are_items_with_argument_deltas_after_the_text():
    from llmgateway.providers.chat_types import ToolCallDelta

    writer, events = run(
        [
            ChatDelta(content="Checking."),
            ChatDelta(tool_calls=(ToolCallDelta(0, "call_a", "get_weather", '{"city":'),)),
            ChatDelta(tool_calls=(ToolCallDelta(0, arguments='"Paris"}'),)),
            ChatDelta(tool_calls=(ToolCallDelta(1, "call_b", "get_weather", '{"city":"Oslo"}'),)),
            ChatDelta(finish_reason="tool_calls"),
        ]
    )

    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [
        (0, "message"),
        (1, "function_call"),
        (2, "function_call"),
    ]
    assert added[1]["item"]["arguments"] == "" and added[1]["item"]["call_id"] == "call_a"
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(e["output_index"], e["arguments"]) for e in done] == [(1, '{"city":"Paris"}'), (2, '{"city":"Oslo"}')]
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed"
    assert [item["type"] for item in final["output"]] == ["message", "function_call", "function_call"]
    assert final["output"][1]["status"] == "completed" and final["output"][1]["id"] != final["output"][2]["id"]
    assert writer.final == final


def test_native_events_are_relayed_with_the_gateway_id_and_the_final_response_kept():
    from tests.fakes.openai_responses import ENCRYPTED, response_object
    from tests.fakes.openai_responses import events as fake_events

    payload = {"model": "o4-mini", "input": "Hi"}
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": ENCRYPTED}
    final = response_object(payload, "completed", [reasoning], {"input_tokens": 1, "output_tokens": 2})
    upstream = [parse_events([chunk])[0] for chunk in fake_events(payload, final)]
    kept = []

    writer, events = run([ChatDelta(native=(e["type"], e)) for e in upstream], on_final_list=kept)

    assert [e["type"] for e in events] == [e["type"] for e in upstream]
    assert [e["sequence_number"] for e in events] == [e["sequence_number"] for e in upstream]
    assert {e["response"]["id"] for e in events if "response" in e} == {"resp_0f1e2d3c000040008000000000000002"}
    assert events[-1]["response"]["output"] == [reasoning]  # encrypted_content untouched
    assert kept == [writer.final] and writer.final["model"] == "anthropic.claude-x"
