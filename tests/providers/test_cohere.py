"""The Cohere provider against the fake v2 API: translation, streams, billed usage, embeddings and error mapping."""

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
)
from llmgateway.providers.cohere import CohereProvider
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, Message, Usage
from tests.fakes.cohere import SCAFFOLD_TOKENS, cohere_error

from .streams import drain, finish_of

MODEL = "command-a-03-2025"
HELLO = (Message("system", "You are terse."), Message("user", "Hello there"))


def chat(messages: tuple[Message, ...] = HELLO, model: str = MODEL, **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, **fields)


# -- request translation ---------------------------------------------------------------------------
def test_chat_body_uses_coheres_field_names(make_cohere, cohere_fake):
    make_cohere().chat(chat(max_tokens=50, temperature=0.3, top_p=0.75, stop=("\n\n",), user="u-1"))
    seen = cohere_fake.requests[-1]
    assert seen["path"] == "/v2/chat"
    assert cohere_fake.headers_seen[-1]["authorization"] == "Bearer co-fake-key"
    assert seen["json"] == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello there"}],
        "max_tokens": 50,
        "temperature": 0.3,
        "p": 0.75,
        "stop_sequences": ["\n\n"],
    }


@pytest.mark.parametrize(("top_p", "p"), [(1.0, 0.99), (0.0, 0.01), (0.5, 0.5)])
def test_top_p_is_moved_into_coheres_range(make_cohere, cohere_fake, top_p, p):
    make_cohere().chat(chat(top_p=top_p))
    assert cohere_fake.requests[-1]["json"]["p"] == p


# -- answers -----------------------------------------------------------------------------------------
def test_chat_reads_content_blocks_and_billed_usage(make_cohere):
    answer = make_cohere().chat(chat())
    assert answer.content == "Hello from the fake Command"
    assert answer.finish_reason == "stop"
    assert answer.usage == Usage(5, 5)  # billed_units, not the raw tokens (5 + scaffolding)
    assert isinstance(answer.usage.prompt_tokens, int)
    assert answer.provider_response_id == "c14c80c3-18eb-4519-9460-6c92edd8cfb4"


def test_raw_tokens_when_nothing_is_billed(make_cohere, cohere_fake):
    cohere_fake.billed_units = False
    assert make_cohere().chat(chat()).usage == Usage(5 + SCAFFOLD_TOKENS, 5)


@pytest.mark.parametrize(
    ("finish", "expected"),
    [("COMPLETE", "stop"), ("STOP_SEQUENCE", "stop"), ("MAX_TOKENS", "length"), ("TOOL_CALL", "tool_calls")],
)
def test_finish_reason_mapping(make_cohere, cohere_fake, finish, expected):
    cohere_fake.finish_reason = finish
    assert make_cohere().chat(chat()).finish_reason == expected
    _, deltas = drain(make_cohere().stream_chat(chat()))
    assert finish_of(deltas) == [expected]


def test_real_stop_sequence_and_length(make_cohere):
    answer = make_cohere().chat(chat(stop=("fake",)))
    assert (answer.content, answer.finish_reason) == ("Hello from the", "stop")
    assert make_cohere().chat(chat(max_tokens=2)).finish_reason == "length"


@pytest.mark.parametrize(("finish", "expected"), [("ERROR", ServerError), ("TIMEOUT", GatewayTimeout)])
def test_error_and_timeout_finishes_are_upstream_failures(make_cohere, cohere_fake, finish, expected):
    cohere_fake.finish_reason = finish
    with pytest.raises(expected) as caught:
        make_cohere().chat(chat())
    assert caught.value.status == expected.status
    stream = make_cohere().stream_chat(chat())
    with pytest.raises(expected):
        drain(stream)
    assert stream.usage == Usage(5, 5)  # partial usage is still known for the ledger


# -- streams -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("send_done", [True, False])
def test_stream_with_or_without_done(make_cohere, cohere_fake, send_done):
    cohere_fake.send_done = send_done
    stream = make_cohere().stream_chat(chat())
    text, deltas = drain(stream)
    assert cohere_fake.requests[-1]["json"]["stream"] is True
    assert text == "Hello from the fake Command"
    assert deltas[0].role == "assistant"
    assert finish_of(deltas) == ["stop"]
    assert stream.usage == Usage(5, 5)


def test_stream_usage_falls_back_to_raw_tokens(make_cohere, cohere_fake):
    cohere_fake.billed_units = False
    stream = make_cohere().stream_chat(chat())
    drain(stream)
    assert stream.usage == Usage(5 + SCAFFOLD_TOKENS, 5)


def test_mid_stream_error_in_message_end(make_cohere, cohere_fake):
    cohere_fake.push("error_event", after=2)
    stream = make_cohere().stream_chat(chat())
    received: list[str] = []
    with pytest.raises(ServerError):
        for delta in stream:
            received.append(delta.content or "")
    stream.close()
    assert "".join(received) == "Hello from"
    assert stream.usage == Usage(5, 2)


@pytest.mark.parametrize("kind", ["cut_after", "bad_json"])
def test_broken_stream_is_a_server_error(make_cohere, cohere_fake, kind):
    cohere_fake.push(kind, after=1)
    stream = make_cohere().stream_chat(chat())
    with pytest.raises(ServerError):
        drain(stream)
    assert stream.usage is None


def test_done_without_message_end_is_an_interruption(make_cohere, cohere_fake):
    cohere_fake.drop_message_end = True
    stream = make_cohere().stream_chat(chat())
    with pytest.raises(ServerError):
        drain(stream)
    assert stream.usage is None


# -- embeddings --------------------------------------------------------------------------------------
def test_embed_body_and_billed_usage(make_cohere, cohere_fake):
    result = make_cohere().embed(
        EmbeddingRequest(
            model="embed-v4.0", inputs=("hello world", "goodbye"), dimensions=256, input_type="classification"
        )
    )
    assert cohere_fake.requests[-1]["path"] == "/v2/embed"
    assert cohere_fake.requests[-1]["json"] == {
        "model": "embed-v4.0",
        "texts": ["hello world", "goodbye"],
        "input_type": "classification",
        "embedding_types": ["float"],
        "output_dimension": 256,
    }
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 256
    assert result.usage == Usage(3, 0)


def test_embed_defaults_input_type(make_cohere, cohere_fake):
    make_cohere().embed(EmbeddingRequest(model="embed-english-v3.0", inputs=("x",)))
    body = cohere_fake.requests[-1]["json"]
    assert body["input_type"] == "search_document" and "output_dimension" not in body


def test_embed_batches_more_than_96_texts(make_cohere, cohere_fake):
    texts = tuple(f"text number {i}" for i in range(200))
    result = make_cohere().embed(EmbeddingRequest(model="embed-v4.0", inputs=texts))
    assert [len(r["json"]["texts"]) for r in cohere_fake.requests] == [96, 96, 8]
    assert cohere_fake.requests[1]["json"]["texts"][0] == "text number 96"
    assert len(result.vectors) == 200
    assert result.usage == Usage(600, 0)


def test_embed_error(make_cohere):
    with pytest.raises(InvalidRequest) as caught:
        make_cohere().embed(EmbeddingRequest(model="embed-v4.0", inputs=("x",), dimensions=7))
    assert "output_dimension" in caught.value.message


# -- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "invalid request: temperature must be between 0 and 1.0 inclusive.", InvalidRequest),
        (400, "too many tokens: size limit exceeded by 11326 tokens.", ContextLengthExceeded),
        (401, "invalid api token", ServerError),
        (402, "Please add or update your payment method", ServerError),
        (404, "model 'xyz' not found", ModelNotFound),
        (422, "invalid request: messages", InvalidRequest),
        (429, "You are past the per minute request limit, please wait and try again later.", RateLimitExceeded),
        (498, "invalid or deny-listed token", ServerError),
        (499, "request cancelled", ServerError),
        (500, "internal server error", ServerError),
        (503, "service unavailable", ServerError),
        (504, "gateway timeout", GatewayTimeout),
    ],
)
def test_flat_errors_are_classified_by_status(make_cohere, cohere_fake, status, message, expected):
    cohere_fake.push("status", status=status, body=cohere_error(message))
    with pytest.raises(GatewayError) as caught:
        make_cohere().chat(chat())
    assert type(caught.value) is expected
    if expected is ServerError:
        assert message not in caught.value.message and caught.value.status == 502


def test_rate_limit_retry_after_when_sent(make_cohere, cohere_fake):
    cohere_fake.push(
        "status", status=429, headers={"retry-after": "4"}, body=cohere_error("trial token rate limit exceeded")
    )
    with pytest.raises(RateLimitExceeded) as caught:
        make_cohere().chat(chat())
    assert caught.value.retry_after == 4.0 and "trial token" in caught.value.message


def test_the_real_validation_errors(make_cohere):
    with pytest.raises(InvalidRequest):
        make_cohere().chat(chat(temperature=1.5))
    with pytest.raises(ContextLengthExceeded):
        make_cohere().chat(chat((Message("user", "word " * 5000),)))
    with pytest.raises(ModelNotFound):
        make_cohere().chat(chat(model="missing-model"))
    with pytest.raises(ServerError):
        make_cohere(api_key="wrong").chat(chat())


def test_catalogue():
    by_id = {m.provider_model_id: m for m in CohereProvider.known_models}
    assert by_id["command-a-03-2025"].context_window == 256000
    assert by_id["command-a-03-2025"].pricing.output_per_million == 10.0
    assert by_id["embed-v4.0"].capabilities == ("embedding",)
    assert CohereProvider.infers("command-r-plus") and CohereProvider.infers("embed-english-v3.0")
    assert not CohereProvider.infers("claude-3-opus")
