"""Function calls through /v1/responses for OpenAI and Anthropic models, and OpenAI's reasoning items passed through."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_responses import ENCRYPTED
from tests.openai_compat.sdk import import_openai
from tests.surface_fixtures import MODELS

openai = import_openai()
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_function_call_round_trip_with_previous_response_id(live, sdk, fakes, provider):
    first = sdk.responses.create(model=MODELS[provider], input="Weather in Paris and London?", tools=[WEATHER])

    calls = [item for item in first.output if item.type == "function_call"]
    produced = fakes[provider].plans[-1].calls
    assert [(c.call_id, c.name) for c in calls] == [(p.id, p.name) for p in produced]
    assert [json.loads(c.arguments) for c in calls] == [{"city": "Paris"}, {"city": "London"}]

    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": f"{json.loads(c.arguments)['city']}: 17C"}
        for c in calls
    ]
    final = sdk.responses.create(model=MODELS[provider], input=outputs, tools=[WEATHER], previous_response_id=first.id)
    assert final.output_text == "Results: Paris: 17C | London: 17C"
    assert len(live.rows(2)) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_streamed_function_call(sdk, fakes, provider):
    with sdk.responses.stream(model=MODELS[provider], input="Weather in Paris?", tools=[WEATHER]) as stream:
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [c.call_id for c in calls] == [p.id for p in fakes[provider].plans[-1].calls]
    assert json.loads(calls[0].arguments) == {"city": "Paris"}


def test_openai_reasoning_items_and_encrypted_content_pass_through(sdk, fakes):
    model = "openai.o4-mini"
    first = sdk.responses.create(model=model, input="Hi", include=["reasoning.encrypted_content"])
    assert first.output[0].type == "reasoning" and first.output[0].encrypted_content == ENCRYPTED
    assert first.output_text == fakes["openai"].reply_text and first.id.startswith("resp_")

    second = sdk.responses.create(
        model=model, input="again", previous_response_id=first.id, include=["reasoning.encrypted_content"]
    )
    sent = fakes["openai"].requests[-1]["json"]
    assert sent["input"][1]["encrypted_content"] == ENCRYPTED  # back to OpenAI untouched (else a 400)
    assert "previous_response_id" not in sent and second.previous_response_id == first.id

    with sdk.responses.stream(model=model, input="Hi", include=["reasoning.encrypted_content"]) as stream:
        streamed = stream.get_final_response()
    assert streamed.output[0].encrypted_content == ENCRYPTED and sdk.responses.retrieve(streamed.id).id == streamed.id
