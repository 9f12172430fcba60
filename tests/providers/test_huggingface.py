"""The Hugging Face provider against the fake router and the fake self-hosted TGI: translation, streams, errors."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from llmgateway.errors import (
    ContextLengthExceeded,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    RateLimitExceeded,
    ServerError,
    ServiceUnavailable,
)
from llmgateway.providers.huggingface import HuggingFaceProvider
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, Message, Usage
from tests.fakes.huggingface import tgi_error

from .streams import drain, finish_of

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
HELLO = (Message("system", "You are terse."), Message("user", "Hello there"))


def chat(messages: tuple[Message, ...] = HELLO, model: str = LLAMA, **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, **fields)


def test_infers_hub_ids():
    assert HuggingFaceProvider.infers(LLAMA)
    assert HuggingFaceProvider.infers("deepseek-ai/DeepSeek-V3-0324:novita")
    assert not any(HuggingFaceProvider.infers(i) for i in ("gpt-4o", "claude-3-opus", "/x", "org/", "a/b/c"))


def test_catalogue_has_unknown_prices():
    by_id = {m.provider_model_id: m for m in HuggingFaceProvider.known_models}
    assert by_id[MINILM].capabilities == ("embedding",)
    assert by_id["Qwen/Qwen2.5-72B-Instruct"].pricing.input_per_million is None


# -- router ------------------------------------------------------------------------------------------
def test_router_chat(make_router, router_fake):
    answer = make_router().chat(chat(max_tokens=64, stop=("\n",), top_p=0.9))
    seen = router_fake.requests[-1]
    assert seen["path"] == "/v1/chat/completions"
    assert router_fake.headers_seen[-1]["authorization"] == "Bearer hf_fake_router_token"
    assert seen["json"]["max_tokens"] == 64 and "max_completion_tokens" not in seen["json"]
    assert seen["json"]["stop"] == ["\n"] and seen["json"]["top_p"] == 0.9
    assert answer.content == "Hello from the fake Llama" and answer.finish_reason == "stop"
    assert answer.usage == Usage(5, 5) and answer.provider_response_id == "chatcmpl-7f3a9d2e"


def test_router_stream_with_usage(make_router, router_fake):
    stream = make_router().stream_chat(chat())
    text, deltas = drain(stream)
    assert router_fake.requests[-1]["json"]["stream_options"] == {"include_usage": True}
    assert text == "Hello from the fake Llama" and finish_of(deltas) == ["stop"]
    assert stream.usage == Usage(5, 5)


def test_stream_without_upstream_usage_leaves_it_unknown(make_router, router_fake):
    router_fake.stream_usage = False
    stream = make_router().stream_chat(chat())
    text, _ = drain(stream)
    assert text == "Hello from the fake Llama" and stream.usage is None


def test_model_no_provider_serves(make_router):
    with pytest.raises(ModelNotFound) as caught:
        make_router().chat(chat(model="acme/not-served"))
    assert caught.value.status == 404 and "acme/not-served" in caught.value.message


def test_embeddings_through_feature_extraction(make_router, router_fake):
    result = make_router().embed(EmbeddingRequest(model=MINILM, inputs=("hello world", "bye")))
    assert router_fake.requests[-1]["path"] == f"/hf-inference/models/{MINILM}/pipeline/feature-extraction"
    assert router_fake.requests[-1]["json"] == {"inputs": ["hello world", "bye"]}
    assert len(result.vectors) == 2 and result.vectors[0] != result.vectors[1]
    assert result.usage is None


def test_single_input_answered_with_a_flat_vector(make_router, router_fake):
    router_fake.flat_single = True
    result = make_router().embed(EmbeddingRequest(model=MINILM, inputs=("hello",)))
    assert result.vectors == [[0.01, 0.02, 0.03, 0.04]]


def test_embeddings_reject_dimensions(make_router, router_fake):
    with pytest.raises(InvalidRequest) as caught:
        make_router().embed(EmbeddingRequest(model=MINILM, inputs=("x",), dimensions=128))
    assert caught.value.param == "dimensions" and router_fake.requests == []


def test_embedding_answer_of_the_wrong_shape(make_router, router_fake):
    router_fake.push("status", status=200, body=[[[0.1, 0.2]], [[0.3, 0.4]]])  # token-level, not pooled
    with pytest.raises(ServerError):
        make_router().embed(EmbeddingRequest(model=MINILM, inputs=("a", "b")))


def test_model_loading_is_service_unavailable_with_retry_after(make_router, router_fake):
    router_fake.push(
        "status", status=503, body={"error": f"Model {MINILM} is currently loading", "estimated_time": 20.0}
    )
    with pytest.raises(ServiceUnavailable) as caught:
        make_router().embed(EmbeddingRequest(model=MINILM, inputs=("x",)))
    assert caught.value.status == 503 and caught.value.retry_after == 20.0


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "relayed"),
    [
        (
            400,
            {"error": {"message": "Input is invalid", "type": "invalid_request_error"}},
            {},
            InvalidRequest,
            "Input is invalid",
        ),
        (400, {"error": "Bad inputs"}, {}, InvalidRequest, "Bad inputs"),
        (
            400,
            {"error": ["inputs must be a list", "inputs must be a string"]},
            {},
            InvalidRequest,
            "inputs must be a list; inputs must be a string",
        ),
        (
            400,
            {"error": "invalid_request", "error_description": "parameters.truncate is not a bool"},
            {},
            InvalidRequest,
            "invalid_request: parameters.truncate is not a bool",
        ),
        (400, b"", {"X-Error-Message": "Header says why"}, InvalidRequest, "Header says why"),
        (401, b"", {}, ServerError, None),
        (402, {"error": "You have exceeded your monthly included credits"}, {}, ServerError, None),
        (404, {"error": "Model acme/x does not exist"}, {}, ModelNotFound, "acme/x"),
        (429, {"error": "Rate limit reached"}, {"Retry-After": "9"}, RateLimitExceeded, "Rate limit reached"),
        (500, {"error": "boom"}, {}, ServerError, None),
    ],
)
def test_router_error_shapes(make_router, router_fake, status, body, headers, expected, relayed):
    router_fake.push("status", status=status, body=body, headers=headers)
    with pytest.raises(GatewayError) as caught:
        make_router().chat(chat())
    assert type(caught.value) is expected
    if relayed:
        assert relayed in caught.value.message
    if expected is RateLimitExceeded:
        assert caught.value.retry_after == 9.0


# -- self-hosted TGI ---------------------------------------------------------------------------------
def test_tgi_chat_with_empty_id_and_stop_sequence(make_tgi, tgi_fake):
    answer = make_tgi().chat(chat(stop=("fake",)))
    assert tgi_fake.requests[-1]["json"]["stop"] == ["fake"]
    assert answer.content == "Hello from the" and answer.finish_reason == "stop"
    assert answer.provider_response_id is None


@pytest.mark.parametrize("top_p", [1.0, 1.5, 0.0, -0.1])
def test_tgi_top_p_outside_the_open_interval_is_dropped(make_tgi, tgi_fake, top_p):
    make_tgi().chat(chat(top_p=top_p))
    assert "top_p" not in tgi_fake.requests[-1]["json"]


def test_tgi_top_p_inside_is_kept(make_tgi, tgi_fake):
    make_tgi().chat(chat(top_p=0.95))
    assert tgi_fake.requests[-1]["json"]["top_p"] == 0.95


def test_tgi_rejects_what_the_provider_must_not_send(tgi_fake):
    """The fake holds TGI's rules, so the tests above would fail if the provider sent them."""
    url = f"{tgi_fake.url}/v1/chat/completions"
    auth = {"Authorization": "Bearer tgi-secret"}
    message = [{"role": "user", "content": "hi"}]
    top = requests.post(url, json={"messages": message, "top_p": 1.0}, headers=auth, timeout=5)
    stop = requests.post(url, json={"messages": message, "stop": "\n"}, headers=auth, timeout=5)
    assert top.status_code == 422 and top.json()["error_type"] == "validation"
    assert stop.status_code == 422


@pytest.mark.parametrize("finish", ["stop_sequence", "eos_token", "length"])
def test_tgi_finish_reasons(make_tgi, tgi_fake, finish):
    tgi_fake.finish_reason = finish
    expected = "length" if finish == "length" else "stop"
    assert make_tgi().chat(chat()).finish_reason == expected
    _, deltas = drain(make_tgi().stream_chat(chat()))
    assert finish_of(deltas) == [expected]


def test_tgi_stream_without_space_and_with_keepalive(make_tgi, tgi_fake):
    stream = make_tgi().stream_chat(chat())
    text, deltas = drain(stream)
    assert text == "Hello from the fake Llama" and finish_of(deltas) == ["stop"]
    assert stream.usage == Usage(5, 5)


def test_tgi_mid_stream_error_uses_its_status(make_tgi, tgi_fake):
    tgi_fake.push("error_event", after=2)
    stream = make_tgi().stream_chat(chat())
    with pytest.raises(ServerError) as caught:
        drain(stream)
    assert caught.value.status == 502
    tgi_fake.push(
        "error_event", after=1, body={"error": {"message": "Input validation error: bad", "http_status_code": 422}}
    )
    stream = make_tgi().stream_chat(chat())
    with pytest.raises(InvalidRequest):
        drain(stream)


@pytest.mark.parametrize("kind", ["cut_after", "bad_json"])
def test_tgi_broken_stream(make_tgi, tgi_fake, kind):
    tgi_fake.push(kind, after=1)
    with pytest.raises(ServerError):
        drain(make_tgi().stream_chat(chat()))


def test_tgi_empty_401_is_a_server_error(make_tgi):
    with pytest.raises(ServerError) as caught:
        make_tgi(api_key="wrong").chat(chat())
    assert caught.value.status == 502


def test_tgi_input_length_is_context_length(make_tgi):
    with pytest.raises(ContextLengthExceeded) as caught:
        make_tgi().chat(chat((Message("user", "word " * 4000),), max_tokens=200))
    assert "must be <= 4096" in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            422,
            tgi_error("Input validation error: `max_new_tokens` must be <= 2048. Given: 4000", "validation"),
            InvalidRequest,
        ),
        (422, tgi_error("Template error: no template", "template_error"), InvalidRequest),
        (424, tgi_error("Request failed during generation: Server error: CUDA OOM", "generation"), ServerError),
        (429, tgi_error("Model is overloaded", "overloaded"), RateLimitExceeded),
        (500, tgi_error("Incomplete generation", "incomplete_generation"), ServerError),
        (
            422,
            {"message": "`inputs` must have less than 512 tokens. Given: 600", "code": 422, "type": "Validation"},
            ContextLengthExceeded,
        ),
        (424, {"error": "backend failed", "error_type": "Backend"}, ServerError),
    ],
)
def test_tgi_and_tei_error_shapes(make_tgi, tgi_fake, status, body, expected):
    tgi_fake.push("status", status=status, body=body)
    with pytest.raises(GatewayError) as caught:
        make_tgi().chat(chat())
    assert type(caught.value) is expected
