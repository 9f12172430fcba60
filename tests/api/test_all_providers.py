"""Every route for all four providers through the gateway: prefixed ids, mappings and inferred names."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ADMIN_KEY, all_providers_config, auth, ledger_rows
from tests.sse import sse_events

MAPPINGS = [
    {"model_id": "house-claude", "provider": "anthropic", "provider_model_id": "claude-3-5-haiku-20241022"},
    {"model_id": "house-command", "provider": "cohere", "provider_model_id": "command-r"},
]


@pytest.fixture
def gateway(make_app, fake_openai, other_fakes):
    for fake in other_fakes.values():
        fake.reset()
    app = make_app(providers=all_providers_config(fake_openai, other_fakes), routing={"model_mappings": MAPPINGS})
    return app, app.test_client(), {"openai": fake_openai, **other_fakes}


CASES = [
    ("anthropic.claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
    ("claude-3-5-haiku-20241022", "anthropic", "claude-3-5-haiku-20241022"),
    ("house-claude", "anthropic", "claude-3-5-haiku-20241022"),
    ("cohere.command-a-03-2025", "cohere", "command-a-03-2025"),
    ("command-r", "cohere", "command-r"),
    ("house-command", "cohere", "command-r"),
    ("huggingface.meta-llama/Llama-3.1-8B-Instruct", "huggingface", "meta-llama/Llama-3.1-8B-Instruct"),
    ("Qwen/Qwen2.5-72B-Instruct", "huggingface", "Qwen/Qwen2.5-72B-Instruct"),
]


@pytest.mark.parametrize(("model", "provider", "provider_model"), CASES)
def test_completion_and_stream_for_every_provider(gateway, model, provider, provider_model):
    app, client, fakes = gateway
    chat = {
        "model": model,
        "messages": [{"role": "system", "content": "be terse"}, {"role": "user", "content": "say hello please"}],
        "max_tokens": 50,
    }
    plain = client.post("/api/v1/completion", json=chat, headers=auth(ADMIN_KEY))
    assert plain.status_code == 200, plain.json
    body = plain.json
    assert (body["model"], body["provider"], body["provider_model"]) == (model, provider, provider_model)
    assert body["choices"][0]["message"]["content"] == fakes[provider].reply_text
    assert body["choices"][0]["finish_reason"] == "stop"

    streamed = client.post("/api/v1/completion/stream", json=chat, headers=auth(ADMIN_KEY))
    events = sse_events(streamed.data)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == fakes[provider].reply_text

    rows = ledger_rows(app)
    assert [r["provider"] for r in rows] == [provider, provider]
    assert rows[0]["prompt_tokens"] == body["usage"]["prompt_tokens"]
    assert rows[1]["completion_tokens"] == chunks[-1]["usage"]["completion_tokens"]


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("cohere.embed-v4.0", "cohere"),
        ("embed-english-v3.0", "cohere"),
        ("huggingface.sentence-transformers/all-MiniLM-L6-v2", "huggingface"),
    ],
)
def test_embeddings_for_providers_that_have_them(gateway, model, provider):
    app, client, _fakes = gateway
    response = client.post(
        "/api/v1/embedding", json={"model": model, "input": ["one two", "three"]}, headers=auth(ADMIN_KEY)
    )
    assert response.status_code == 200, response.json
    assert [item["index"] for item in response.json["data"]] == [0, 1]
    assert response.json["provider"] == provider
    [row] = ledger_rows(app)
    assert row["endpoint"] == "embedding" and row["provider"] == provider


def test_anthropic_has_no_embeddings(gateway):
    _app, client, fakes = gateway
    response = client.post(
        "/api/v1/embedding", json={"model": "anthropic.claude-sonnet-4-5", "input": "x"}, headers=auth(ADMIN_KEY)
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "unsupported_operation"
    assert fakes["anthropic"].requests == []


def test_anthropic_gets_max_tokens_and_system_when_the_caller_omits_them(gateway):
    _app, client, fakes = gateway
    chat = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}],
    }
    assert client.post("/api/v1/completion", json=chat, headers=auth(ADMIN_KEY)).status_code == 200
    sent = fakes["anthropic"].requests[-1]["json"]
    assert sent["system"] == "rules" and sent["max_tokens"] > 0
    assert all(m["role"] != "system" for m in sent["messages"])


@pytest.mark.parametrize(
    ("provider", "status", "body", "code", "gateway_status"),
    [
        (
            "anthropic",
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "server_error",
            502,
        ),
        (
            "anthropic",
            429,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
            "rate_limit_exceeded",
            429,
        ),
        ("cohere", 498, {"id": "x", "message": "invalid api token"}, "server_error", 502),
        (
            "cohere",
            400,
            {"id": "x", "message": "too many tokens: size limit exceeded by 11 tokens."},
            "context_length_exceeded",
            400,
        ),
        (
            "huggingface",
            503,
            {"error": "Model x is currently loading", "estimated_time": 20.0},
            "service_unavailable",
            503,
        ),
    ],
)
def test_provider_errors_map_to_gateway_codes(gateway, provider, status, body, code, gateway_status):
    app, client, fakes = gateway
    fakes[provider].push("status", status=status, body=body, headers={"retry-after": "7"})
    model = {
        "anthropic": "claude-sonnet-4-5",
        "cohere": "command-r",
        "huggingface": "meta-llama/Llama-3.1-8B-Instruct",
    }[provider]
    response = client.post(
        "/api/v1/completion",
        json={"model": model, "messages": [{"role": "user", "content": "x"}]},
        headers=auth(ADMIN_KEY),
    )
    assert response.status_code == gateway_status
    assert response.json["error"]["code"] == code
    if gateway_status in (429, 503):
        assert response.headers["Retry-After"] in ("7", "20")
    assert "invalid api token" not in response.data.decode()
    [row] = ledger_rows(app)
    assert row["error_code"] == code
