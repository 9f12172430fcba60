"""The Anthropic provider against the fake Messages API: translation, streams, usage rules and error mapping."""

from __future__ import annotations

from typing import Any

import pytest

from llmgateway.errors import (
    ContextLengthExceeded,
    GatewayError,
    GatewayTimeout,
    InvalidRequest,
    ModelNotFound,
    RateLimitExceeded,
    ServerError,
    UnsupportedOperation,
)
from llmgateway.providers.anthropic import AnthropicProvider
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, Message, Usage
from tests.fakes.anthropic import anthropic_error

from .streams import drain, finish_of

MODEL = "claude-sonnet-4-5-20250929"
HELLO = (Message("user", "Hello there"),)


def chat(messages: tuple[Message, ...] = HELLO, model: str = MODEL, **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, **fields)


# -- request translation ---------------------------------------------------------------------------
def test_headers_path_and_sampling_fields(make_anthropic, anthropic_fake):
    make_anthropic().chat(
        chat(max_tokens=100, temperature=0.2, top_p=0.9, stop=("\n\nHuman:",), user="user-7", request_id="req-1")
    )
    seen, headers = anthropic_fake.requests[-1], anthropic_fake.headers_seen[-1]
    assert seen["path"] == "/v1/messages"
    assert headers["x-api-key"] == "sk-ant-fake-key" and "authorization" not in headers
    assert headers["anthropic-version"] == "2023-06-01"
    body = seen["json"]
    assert body == {
        "model": MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello there"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["\n\nHuman:"],
        "metadata": {"user_id": "user-7"},
    }


def test_version_header_is_configurable(make_anthropic, anthropic_fake):
    make_anthropic(options={"version": "2024-01-01"}).chat(chat(max_tokens=5))
    assert anthropic_fake.headers_seen[-1]["anthropic-version"] == "2024-01-01"


def test_system_messages_go_to_the_top_level_field_joined(make_anthropic, anthropic_fake):
    messages = (Message("system", "Be terse."), Message("user", "Hi"), Message("system", "Answer in French."))
    make_anthropic().chat(chat(messages))
    body = anthropic_fake.requests[-1]["json"]
    assert body["system"] == "Be terse.\n\nAnswer in French."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_consecutive_same_role_messages_are_merged(make_anthropic, anthropic_fake):
    messages = (
        Message("user", "one"),
        Message("user", "two"),
        Message("assistant", "ok"),
        Message("assistant", "and"),
        Message("user", "three"),
    )
    make_anthropic().chat(chat(messages))
    assert anthropic_fake.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "one\n\ntwo"},
        {"role": "assistant", "content": "ok\n\nand"},
        {"role": "user", "content": "three"},
    ]


def test_max_tokens_default_comes_from_the_catalogue(make_anthropic, anthropic_fake):
    make_anthropic().chat(chat(model="claude-3-haiku-20240307"))
    assert anthropic_fake.requests[-1]["json"]["max_tokens"] == 4096
    make_anthropic().chat(chat(model="claude-sonnet-4-5"))  # an alias resolves to its snapshot's entry
    assert anthropic_fake.requests[-1]["json"]["max_tokens"] == 8192


def test_max_tokens_default_from_configuration_then_fallback(make_anthropic, anthropic_fake):
    make_anthropic(options={"default_max_tokens": 333}).chat(chat())
    assert anthropic_fake.requests[-1]["json"]["max_tokens"] == 333
    make_anthropic().chat(chat(model="claude-future-9"))
    assert anthropic_fake.requests[-1]["json"]["max_tokens"] == 4096


def test_catalogue_prices_and_windows():
    by_id = {m.provider_model_id: m for m in AnthropicProvider.known_models}
    assert by_id["claude-3-opus-20240229"].pricing.input_per_million == 15.0
    assert by_id["claude-3-5-haiku-20241022"].pricing.output_per_million == 4.0
    assert by_id["claude-haiku-4-5-20251001"].pricing.input_per_million == 1.0
    assert all(
        m.context_window == 200000 and {"completion", "tools", "json_schema"} <= set(m.capabilities)
        for m in by_id.values()
    )
    assert "vision" not in by_id["claude-3-5-haiku-20241022"].capabilities
    assert AnthropicProvider.model_info("claude-3-7-sonnet-latest").provider_model_id == "claude-3-7-sonnet-20250219"
    assert AnthropicProvider.model_info("claude-opus-4-0").provider_model_id == "claude-opus-4-20250514"
    assert AnthropicProvider.model_info("claude-opus-4-1").provider_model_id == "claude-opus-4-1-20250805"
    assert AnthropicProvider.infers("claude-3-haiku-20240307") and not AnthropicProvider.infers("gpt-4o")


def test_no_embeddings(make_anthropic, anthropic_fake):
    with pytest.raises(UnsupportedOperation) as caught:
        make_anthropic().embed(EmbeddingRequest(model=MODEL, inputs=("x",)))
    assert caught.value.status == 400 and caught.value.code == "unsupported_operation"
    assert anthropic_fake.requests == []


# -- answers -----------------------------------------------------------------------------------------
def test_chat_answer_and_usage(make_anthropic):
    answer = make_anthropic().chat(chat())
    assert answer.content == "Hello from the fake Claude"
    assert answer.finish_reason == "stop"
    assert answer.usage == Usage(2, 5)
    assert answer.provider_response_id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"


def test_cache_tokens_count_as_prompt_tokens(make_anthropic, anthropic_fake):
    anthropic_fake.cache_creation_tokens, anthropic_fake.cache_read_tokens = 100, 50
    detail = {"cached_tokens": 50, "cache_write_tokens": 100}
    assert make_anthropic().chat(chat()).usage == Usage(152, 5, **detail)
    stream = make_anthropic().stream_chat(chat())
    drain(stream)
    assert stream.usage == Usage(152, 5, **detail) == Usage(anthropic_fake.served[-1].prompt_tokens, 5, **detail)


def test_only_text_blocks_make_the_content(make_anthropic, anthropic_fake):
    anthropic_fake.tool_call = True
    answer = make_anthropic().chat(chat())
    assert answer.content == "Hello from the fake Claude" and answer.finish_reason == "tool_calls"
    text, deltas = drain(make_anthropic().stream_chat(chat()))
    assert text == "Hello from the fake Claude" and finish_of(deltas) == ["tool_calls"]


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reason_mapping(make_anthropic, anthropic_fake, stop_reason, expected):
    anthropic_fake.stop_reason = stop_reason
    assert make_anthropic().chat(chat()).finish_reason == expected
    _, deltas = drain(make_anthropic().stream_chat(chat()))
    assert finish_of(deltas) == [expected]


def test_real_stop_sequence_and_length(make_anthropic):
    assert make_anthropic().chat(chat(stop=("fake",))).content == "Hello from the"
    assert make_anthropic().chat(chat(stop=("fake",))).finish_reason == "stop"
    assert make_anthropic().chat(chat(max_tokens=2)).finish_reason == "length"


# -- streams -----------------------------------------------------------------------------------------
def test_stream_with_ping_ends_at_message_stop(make_anthropic, anthropic_fake):
    stream = make_anthropic().stream_chat(chat())
    text, deltas = drain(stream)
    assert anthropic_fake.requests[-1]["json"]["stream"] is True
    assert text == "Hello from the fake Claude"
    assert deltas[0].role == "assistant"
    assert finish_of(deltas) == ["stop"]
    assert stream.usage == Usage(2, 5)


def test_stream_output_is_the_last_cumulative_count_never_a_sum(make_anthropic, anthropic_fake):
    anthropic_fake.usage_updates = True  # message_start says 1, an interim message_delta 1, the last one 5
    stream = make_anthropic().stream_chat(chat())
    drain(stream)
    assert stream.usage == Usage(2, 5)
    assert anthropic_fake.served[-1].completion_tokens == 5


def test_stream_without_message_stop_is_an_interruption(make_anthropic, anthropic_fake):
    anthropic_fake.drop_message_stop = True
    stream = make_anthropic().stream_chat(chat())
    with pytest.raises(ServerError):
        drain(stream)
    assert stream.usage is None


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("overloaded_error", ServerError),
        ("api_error", ServerError),
        ("rate_limit_error", RateLimitExceeded),
        ("timeout_error", GatewayTimeout),
        ("invalid_request_error", InvalidRequest),
    ],
)
def test_error_event_after_200(make_anthropic, anthropic_fake, error_type, expected):
    anthropic_fake.push("error_event", after=2, body=anthropic_error(error_type, "Overloaded"))
    stream = make_anthropic().stream_chat(chat())
    received: list[str] = []
    with pytest.raises(GatewayError) as caught:
        for delta in stream:
            received.append(delta.content or "")
    stream.close()
    assert type(caught.value) is expected
    assert "".join(received) == "Hello from"
    assert anthropic_fake.served[-1].complete is False


@pytest.mark.parametrize("kind", ["cut_after", "bad_json"])
def test_broken_stream_is_a_server_error(make_anthropic, anthropic_fake, kind):
    anthropic_fake.push(kind, after=1)
    stream = make_anthropic().stream_chat(chat())
    with pytest.raises(ServerError):
        drain(stream)


def test_refused_stream_raises_the_mapped_error_before_returning(make_anthropic, anthropic_fake):
    anthropic_fake.push("status", status=529, body=anthropic_error("overloaded_error", "Overloaded"))
    with pytest.raises(ServerError) as caught:
        make_anthropic().stream_chat(chat())
    assert caught.value.status == 502


# -- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error_type", "expected", "code"),
    [
        (400, "invalid_request_error", InvalidRequest, "invalid_request"),
        (401, "authentication_error", ServerError, "server_error"),
        (402, "billing_error", ServerError, "server_error"),
        (403, "permission_error", ServerError, "server_error"),
        (404, "not_found_error", ModelNotFound, "model_not_found"),
        (413, "request_too_large", ContextLengthExceeded, "context_length_exceeded"),
        (500, "api_error", ServerError, "server_error"),
        (504, "timeout_error", GatewayTimeout, "timeout"),
        (529, "overloaded_error", ServerError, "server_error"),
    ],
)
def test_error_statuses(make_anthropic, anthropic_fake, status, error_type, expected, code):
    anthropic_fake.push("status", status=status, body=anthropic_error(error_type, "Something about it"))
    with pytest.raises(GatewayError) as caught:
        make_anthropic().chat(chat())
    assert type(caught.value) is expected and caught.value.code == code
    assert caught.value.status == expected.status


def test_rate_limit_with_retry_after(make_anthropic, anthropic_fake):
    anthropic_fake.push(
        "status",
        status=429,
        headers={"retry-after": "12", "anthropic-ratelimit-requests-remaining": "0"},
        body=anthropic_error("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
    )
    with pytest.raises(RateLimitExceeded) as caught:
        make_anthropic().chat(chat())
    assert caught.value.retry_after == 12.0 and caught.value.status == 429


def test_bad_key_is_not_echoed(make_anthropic):
    with pytest.raises(ServerError) as caught:
        make_anthropic(api_key="sk-ant-wrong").chat(chat())
    assert "x-api-key" not in caught.value.message and "wrong" not in caught.value.message


def test_prompt_too_long_is_context_length(make_anthropic):
    with pytest.raises(ContextLengthExceeded) as caught:
        make_anthropic().chat(chat((Message("user", "word " * 9000),)))
    assert "prompt is too long" in caught.value.message


def test_unknown_model(make_anthropic):
    with pytest.raises(ModelNotFound):
        make_anthropic().chat(chat(model="missing-model"))


def test_temperature_outside_anthropics_range_is_relayed(make_anthropic):
    with pytest.raises(InvalidRequest) as caught:
        make_anthropic().chat(chat(temperature=1.5))
    assert "temperature" in caught.value.message
