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


def run(deltas, usage=Usage(7, 2), **body):
    parsed = parse_responses_request({"model": "anthropic.claude-x", "input": "Hi", **body})
    writer = ResponseEvents(ResponseFrame(REQUEST_ID, "anthropic.claude-x", parsed))
    return writer, parse_events(writer.events(deltas, lambda: usage))


def test_a_text_answer_has_the_exact_sequence_with_dense_sequence_numbers():
    writer, events = run([ChatDelta(role="assistant"), ChatDelta(content="Hi"), ChatDelta(content=" there!"),
                          ChatDelta(finish_reason="stop")], instructions="Be nice.")

    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
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
