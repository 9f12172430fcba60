"""The OpenAI provider's native mode: a /v1/responses body sent to OpenAI's Responses API as is, read back."""

from __future__ import annotations

from llmgateway.providers.types import ChatRequest, Message, NativeRequest
from tests.fakes.openai_responses import ENCRYPTED

from .streams import drain

REASONING = {"type": "reasoning", "id": "rs_fake1", "summary": [], "encrypted_content": ENCRYPTED}


def native_request(model="o4-mini", **body):
    native = NativeRequest("openai.responses", {"input": "Hi", "include": ["reasoning.encrypted_content"], **body})
    return ChatRequest(model=model, messages=(Message("user", "neutral only"),), native=native)


def test_the_body_goes_to_the_responses_api_and_reasoning_comes_back_untouched(make_openai, openai_fake):
    response = make_openai().chat(
        native_request(input=[{"role": "user", "content": "Hi"}, REASONING, {"role": "user", "content": "again"}])
    )

    seen = openai_fake.requests[-1]
    assert seen["path"] == "/v1/responses"
    assert seen["json"]["input"][1] == REASONING and seen["json"]["model"] == "o4-mini"
    assert response.native["output"][0] == REASONING  # encrypted_content as OpenAI sent it
    assert response.content == openai_fake.reply_text and response.finish_reason == "stop"
    assert response.usage.prompt_tokens == openai_fake.served[-1].prompt_tokens


def test_a_native_stream_relays_every_event_and_reads_text_and_usage(make_openai, openai_fake):
    stream = make_openai().stream_chat(native_request())
    text, deltas = drain(stream)

    names = [d.native[0] for d in deltas]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert [d.native[1]["sequence_number"] for d in deltas] == list(range(len(deltas)))
    assert text == openai_fake.reply_text
    assert stream.usage.completion_tokens == openai_fake.served[-1].completion_tokens


def test_function_calls_are_read_as_neutral_tool_calls(make_openai, openai_fake):
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    response = make_openai().chat(native_request(model="gpt-4o", tools=tools))
    assert response.finish_reason == "tool_calls" and [c.name for c in response.tool_calls] == ["get_weather"] * 2
    _, deltas = drain(make_openai().stream_chat(native_request(model="gpt-4o", tools=tools)))
    calls = [c for d in deltas for c in d.tool_calls]
    assert [c.index for c in calls if c.id] == [0, 1]
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]


def test_only_openai_itself_gets_the_native_body():
    from llmgateway.providers.azure import AzureOpenAIProvider
    from llmgateway.providers.huggingface import HuggingFaceProvider
    from llmgateway.providers.openai import OpenAIProvider
    from llmgateway.providers.openai_compatible import OpenAICompatibleProvider

    assert OpenAIProvider.responses_path == "/responses"
    for translated in (OpenAICompatibleProvider, AzureOpenAIProvider, HuggingFaceProvider):
        assert translated.responses_path is None, translated
