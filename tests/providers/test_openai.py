"""The OpenAI provider against the fake OpenAI API: translation, streams, usage and every error mapping."""

from __future__ import annotations

from typing import Any

import pytest

from llmgateway.errors import (
    ContextLengthExceeded,
    GatewayTimeout,
    InvalidRequest,
    ModelNotFound,
    RateLimitExceeded,
    ServerError,
)
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, Message, Usage
from tests.fakes.openai import openai_error
from tests.fakes.server import Fault

from .streams import drain, finish_of

HELLO = (Message("system", "You are terse."), Message("user", "Hello there"))


def chat(model: str = "gpt-4o-mini", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=HELLO, **fields)


def test_chat_translates_the_request_and_reads_the_answer(make_openai, openai_fake):
    answer = make_openai().chat(
        chat(max_tokens=64, temperature=0.2, top_p=0.9, stop=("\n\n",), user="u-1", request_id="req-42")
    )
    body = openai_fake.requests[-1]["json"]
    assert openai_fake.requests[-1]["path"] == "/v1/chat/completions"
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert body["stop"] == ["\n\n"] and body["user"] == "u-1" and body["top_p"] == 0.9
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert "stream" not in body and "stream_options" not in body
    assert openai_fake.headers_seen[-1]["x-request-id"] == "req-42"
    assert answer.content == "Hello from the fake upstream"
    assert answer.finish_reason == "stop"
    assert answer.usage == Usage(5, 5)
    assert answer.provider_response_id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"


def test_chat_length_finish(make_openai):
    assert make_openai().chat(chat(max_tokens=2)).finish_reason == "length"


def test_stream_asks_for_usage_and_reads_the_final_usage_chunk(make_openai, openai_fake):
    stream = make_openai().stream_chat(chat())
    text, deltas = drain(stream)
    body = openai_fake.requests[-1]["json"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert text == "Hello from the fake upstream"
    assert deltas[0].role == "assistant"
    assert finish_of(deltas) == ["stop"]
    assert stream.usage == Usage(5, 5)
    assert openai_fake.served[-1].complete


def test_embeddings(make_openai, openai_fake):
    result = make_openai().embed(EmbeddingRequest(model="text-embedding-3-small", inputs=("a b", "c"), dimensions=2))
    assert openai_fake.requests[-1]["json"]["dimensions"] == 2
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 2
    assert result.vectors[0] != result.vectors[1]
    assert result.usage == Usage(3, 0)


def test_unknown_field_is_an_invalid_request(make_openai):
    with pytest.raises(InvalidRequest) as caught:
        make_openai().chat(chat(extra={"bogus": 1}))
    assert "bogus" in caught.value.message and caught.value.status == 400


def test_bad_credentials_become_a_server_error_without_echo(make_openai):
    with pytest.raises(ServerError) as caught:
        make_openai(api_key="sk-wrong").chat(chat())
    assert caught.value.status == 502 and "sk-abc" not in caught.value.message


def test_unknown_model(make_openai):
    with pytest.raises(ModelNotFound) as caught:
        make_openai().chat(chat(model="missing-model"))
    assert caught.value.status == 404 and caught.value.code == "model_not_found"


def test_rate_limit_carries_retry_after(make_openai, openai_fake):
    openai_fake.push(
        "status",
        status=429,
        headers={"Retry-After": "7"},
        body=openai_error("Rate limit reached for gpt-4o on tokens per min (TPM).", "tokens", "rate_limit_exceeded"),
    )
    with pytest.raises(RateLimitExceeded) as caught:
        make_openai().chat(chat())
    assert caught.value.retry_after == 7.0 and caught.value.response_headers()["Retry-After"] == "7"


def test_exhausted_quota_is_not_a_rate_limit(make_openai, openai_fake):
    openai_fake.push(
        "status",
        status=429,
        body=openai_error("You exceeded your current quota.", "insufficient_quota", "insufficient_quota"),
    )
    with pytest.raises(ServerError):
        make_openai().chat(chat())


@pytest.mark.parametrize("status", [500, 503])
def test_upstream_5xx_is_a_server_error(make_openai, openai_fake, status):
    openai_fake.push("status", status=status, body=openai_error("The server had an error.", "server_error"))
    with pytest.raises(ServerError) as caught:
        make_openai().chat(chat())
    assert caught.value.status == 502


def test_context_length(make_openai):
    long = ChatRequest(model="gpt-4o-mini", messages=(Message("user", "word " * 9000),))
    with pytest.raises(ContextLengthExceeded) as caught:
        make_openai().chat(long)
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "messages"


def test_refused_stream_raises_before_returning(make_openai, openai_fake):
    openai_fake.push("status", status=429, headers={"Retry-After": "3"}, body=openai_error("slow down", "requests"))
    with pytest.raises(RateLimitExceeded):
        make_openai().stream_chat(chat())


@pytest.mark.parametrize("kind", ["error_event", "cut_after", "bad_json"])
def test_mid_stream_failures_are_server_errors(make_openai, openai_fake, kind):
    openai_fake.push(kind, after=2)
    stream = make_openai().stream_chat(chat())
    with pytest.raises(ServerError):
        drain(stream)
    assert stream.usage is None
    assert openai_fake.served[-1].complete is False


def test_silent_upstream_times_out(make_openai, openai_fake):
    openai_fake.push("silence", seconds=2)
    with pytest.raises(GatewayTimeout):
        make_openai(timeout=0.3).chat(chat())


def test_stalled_stream_times_out(make_openai, openai_fake):
    openai_fake.chunk_delay = 1.0
    stream = make_openai(timeout=0.3, stream_idle_timeout=0.3).stream_chat(chat())
    with pytest.raises(GatewayTimeout):
        drain(stream)


def test_connection_reset_is_a_server_error(make_openai, openai_fake):
    openai_fake.push("reset")
    with pytest.raises(ServerError):
        make_openai().chat(chat())


def test_requests_carry_json_framing_and_no_cookie_from_an_earlier_answer(make_openai, openai_fake):
    provider = make_openai()
    openai_fake.faults.append(
        Fault("status", 429, openai_error("slow down", "rate_limit_error"), {"Set-Cookie": "tenant=team-a; Path=/"})
    )
    with pytest.raises(RateLimitExceeded):
        provider.chat(chat())
    provider.chat(chat(request_id="req-43"))

    seen = openai_fake.headers_seen[-1]
    assert seen["content-type"] == "application/json"
    assert int(seen["content-length"]) == len(openai_fake.requests[-1]["raw"])
    assert seen["x-request-id"] == "req-43"
    assert "cookie" not in seen  # upstream cookies are never stored, so never replayed for another caller
