"""Completion and stream routes against the fake OpenAI upstream, with their ledger records."""

from __future__ import annotations

import json

from tests.conftest import CHAT, COMPLETION_KEY, auth, ledger_rows
from tests.sse import sse_events


def test_completion_answers_in_openai_shape_with_gateway_fields(client, app, fake_openai):
    response = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))

    assert response.status_code == 200
    body = response.json
    assert body["object"] == "chat.completion"
    assert body["model"] == "openai.gpt-4o-mini"
    assert body["provider"] == "openai" and body["provider_model"] == "gpt-4o-mini"
    assert body["cached"] is False and body["fallback_from"] is None
    assert body["choices"][0]["message"] == {"role": "assistant", "content": fake_openai.reply_text}
    assert body["choices"][0]["finish_reason"] == "stop"
    served = fake_openai.served[-1]
    assert body["usage"] == {
        "prompt_tokens": served.prompt_tokens,
        "completion_tokens": served.completion_tokens,
        "total_tokens": served.prompt_tokens + served.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
        # gpt-4o-mini at $0.15 in / $0.60 out per million tokens
        "cost_usd": round((served.prompt_tokens * 0.15 + served.completion_tokens * 0.6) / 1e6, 10),
    }
    assert response.headers["X-LLMGateway-Provider"] == "openai"
    assert response.headers["X-LLMGateway-Model"] == "gpt-4o-mini"
    sent = fake_openai.requests[-1]["json"]
    assert sent["model"] == "gpt-4o-mini" and "stream" not in sent


def test_completion_is_recorded_once_with_tokens_and_cost(client, app, fake_openai):
    response = client.post("/api/v1/completion", json={**CHAT, "user": "alice"}, headers=auth(COMPLETION_KEY))
    assert response.status_code == 200

    [row] = ledger_rows(app)
    served = fake_openai.served[-1]
    assert row["request_id"] == response.headers["X-LLMGateway-Request-ID"]
    assert row["endpoint"] == "completion"
    assert row["model"] == "openai.gpt-4o-mini" and row["provider_model"] == "gpt-4o-mini"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (served.prompt_tokens, served.completion_tokens)
    assert row["user"] == "alice" and row["owner"] == "Team A"
    expected_cost = (served.prompt_tokens * 0.15 + served.completion_tokens * 0.6) / 1_000_000
    assert abs(row["cost_usd"] - expected_cost) < 1e-12
    assert row["status_code"] == 200 and row["error_code"] is None


def test_stream_relays_chunks_then_usage_then_done(client, app, fake_openai):
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY))

    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = sse_events(response.data)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == fake_openai.reply_text
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    served = fake_openai.served[-1]
    assert usage_chunk["usage"]["completion_tokens"] == served.completion_tokens
    sent = fake_openai.requests[-1]["json"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    [row] = ledger_rows(app)
    assert row["endpoint"] == "completion_stream" and row["streamed"] is True
    assert row["completion_tokens"] == served.completion_tokens and row["tokens_estimated"] is False
    assert row["ttft_ms"] is not None


def test_stream_cut_upstream_ends_with_one_error_event_and_partial_record(client, app, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.push("cut_after", after=5)

    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY))

    events = sse_events(response.data)
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "server_error"
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert [c for c in contents if c] == ["w0", " w1", " w2", " w3", " w4"]
    [row] = ledger_rows(app)
    assert row["status_code"] == 502 and row["error_code"] == "server_error"
    assert row["completion_tokens"] > 0 and row["tokens_estimated"] is True


def test_upstream_error_before_stream_is_a_plain_json_error(client, app, fake_openai):
    for _ in range(3):  # every attempt fails (retries are covered in tests/resilience)
        fake_openai.push(
            "status",
            status=500,
            body={"error": {"message": "boom", "type": "server_error", "param": None, "code": None}},
        )
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY))
    assert response.status_code == 502
    assert response.json["error"]["code"] == "server_error"
    [row] = ledger_rows(app)
    assert row["status_code"] == 502 and row["total_tokens"] == 0
