"""Exactly one usage record per authenticated usage request, on every path (QUALITY R2, SPEC §6)."""

from __future__ import annotations

import json

import pytest
from werkzeug.exceptions import TooManyRequests

from llmgateway.core.tokens import estimate_text
from llmgateway.errors import ServiceUnavailable
from tests.conftest import CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth, ledger_rows
from tests.sse import sse_events


def test_each_outcome_leaves_one_record_with_its_status(app, client, fake_openai):
    ids = {}
    ids["ok"] = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
    fake_openai.push("status", status=500, body={"error": {"message": "x", "type": "server_error"}})
    ids["upstream"] = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
    ids["invalid"] = client.post("/api/v1/completion", json={"model": 5}, headers=auth(COMPLETION_KEY))
    ids["forbidden"] = client.post("/api/v1/completion", json=CHAT, headers=auth(EMBEDDING_KEY))
    ids["embedding"] = client.post(
        "/api/v1/embedding",
        json={"model": "openai.text-embedding-3-small", "input": ["a b c"]},
        headers=auth(EMBEDDING_KEY),
    )
    unauthenticated = client.post("/api/v1/completion", json=CHAT)
    client.get("/api/v1/models", headers=auth(COMPLETION_KEY))  # not usage

    rows = {r["request_id"]: r for r in ledger_rows(app)}
    assert unauthenticated.status_code == 401
    assert len(rows) == len(ids)
    got = {name: rows[resp.headers["X-LLMGateway-Request-ID"]] for name, resp in ids.items()}
    assert {n: (r["status_code"], r["error_code"]) for n, r in got.items()} == {
        "ok": (200, None),
        "upstream": (502, "server_error"),
        "invalid": (400, "invalid_request"),
        "forbidden": (403, got["forbidden"]["error_code"]),
        "embedding": (200, None),
    }
    assert got["forbidden"]["error_code"] and got["forbidden"]["owner"] == "Team B"
    assert got["invalid"]["total_tokens"] == 0 and got["forbidden"]["total_tokens"] == 0
    assert got["embedding"]["endpoint"] == "embedding" and got["embedding"]["prompt_tokens"] == 3


def test_a_limiter_rejection_after_authentication_is_recorded(make_app, fake_openai):
    app = make_app()

    @app.before_request
    def limiter():  # a rate limiter runs as a before_request hook after authentication
        from flask import g

        if g.llmgateway.call is not None:
            raise TooManyRequests("1 per minute")

    response = app.test_client().post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))

    assert response.status_code == 429
    [row] = ledger_rows(app)
    assert row["status_code"] == 429 and row["error_code"] == "rate_limit_exceeded"
    assert fake_openai.requests == []


@pytest.mark.parametrize("fault", ["cut_after", "error_event", "bad_json"])
def test_a_stream_failing_midway_has_one_error_event_and_a_partial_record(client, app, fake_openai, fault):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.push(fault, after=5)

    body = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY)).data

    sent = sse_events(body)
    assert "[DONE]" not in sent and sum('"error"' in e for e in sent) == 1 and '"error"' in sent[-1]
    [row] = ledger_rows(app)
    assert row["status_code"] >= 500 and row["streamed"] is True
    assert row["tokens_estimated"] is True
    assert row["completion_tokens"] == estimate_text("w0 w1 w2 w3 w4")  # the five chunks relayed
    assert row["prompt_tokens"] > 0 and row["cost_usd"] > 0


def test_a_client_abandoning_a_stream_is_recorded_once_with_partial_tokens(client, app, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(50))
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY), buffered=False)
    chunks = iter(response.response)
    for _ in range(4):
        next(chunks)
    response.close()

    [row] = ledger_rows(app)
    assert row["status_code"] == 499 and row["error_code"] == "client_closed_request"
    assert 0 < row["completion_tokens"] < 50 and row["tokens_estimated"] is True


def test_a_stream_never_read_is_still_recorded(client, app):
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY), buffered=False)
    response.close()
    [row] = ledger_rows(app)
    assert row["request_id"] == response.headers["X-LLMGateway-Request-ID"]


def test_a_stream_ended_by_shutdown_gets_an_error_event_and_a_record(client, app, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(50))
    gateway = app.extensions["llmgateway"].gateway
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY), buffered=False)
    chunks = iter(response.response)
    received = [next(chunks) for _ in range(3)]
    assert gateway.open_streams.abort_all(lambda: ServiceUnavailable("restarting")) == 1
    received.extend(chunks)
    response.close()

    last = json.loads(sse_events(b"".join(received))[-1])
    assert last["error"]["code"] == "service_unavailable"
    [row] = ledger_rows(app)
    assert row["status_code"] == 503 and 0 < row["completion_tokens"] < 50
    assert len(gateway.open_streams) == 0


def test_complete_stream_records_provider_tokens_and_priced_cost(make_app, fake_openai):
    app = make_app(pricing={"openai.gpt-4o-mini": {"input_per_million": 1000, "output_per_million": 2000}})
    body = app.test_client().post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY)).data
    assert sse_events(body)[-1] == "[DONE]"
    [row] = ledger_rows(app)
    served = fake_openai.served[-1]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (served.prompt_tokens, served.completion_tokens)
    assert row["tokens_estimated"] is False
    assert row["cost_usd"] == pytest.approx((served.prompt_tokens * 1000 + served.completion_tokens * 2000) / 1e6)
