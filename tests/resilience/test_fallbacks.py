"""Fallback rules: a matching error moves to the next model (which may be another provider), the answer names
who answered (`fallback_from`, X-LLMGateway-Fallback) and the ledger records it; other errors do not."""

from __future__ import annotations

import json

import pytest

from llmgateway.providers import registry
from llmgateway.providers.openai import OpenAIProvider
from tests.conftest import CHAT, COMPLETION_KEY, auth, ledger_rows
from tests.fakes.openai import FakeOpenAI
from tests.resilience.conftest import FAST_RETRIES, openai_section
from tests.sse import sse_events

ERROR_BODY = {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}}
PRIMARY = "openai.gpt-4o"
TWO_ATTEMPTS = {**FAST_RETRIES, "max_attempts": 2}


class BackupAI(OpenAIProvider):
    """A second OpenAI-compatible provider (another vendor, another base URL) registered for these tests."""

    name = "backupai"
    inferred_prefixes = ()


@pytest.fixture
def backup_fake(monkeypatch):
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "backupai", f"{__name__}:BackupAI")
    server = FakeOpenAI().start()
    server.reply_text = "Hello from the backup provider"
    yield server
    server.stop()


def rule(*fallbacks, codes=None):
    entry = {"model_id": PRIMARY, "fallback_models": list(fallbacks)}
    if codes is not None:
        entry["error_codes"] = codes
    return {"enabled": True, "rules": [entry]}


def complete(client, path="/api/v1/completion"):
    return client.post(path, json={**CHAT, "model": PRIMARY}, headers=auth(COMPLETION_KEY))


def test_matching_error_is_answered_by_the_fallback_with_headers_and_ledger(make_app, fake_openai):
    app = make_app(fallbacks=rule("openai.gpt-4o-mini"), retries=TWO_ATTEMPTS, circuit_breaker={"enabled": False})
    fake_openai.push("status", status=503, body=ERROR_BODY)
    fake_openai.push("status", status=503, body=ERROR_BODY)

    response = complete(app.test_client())

    assert response.status_code == 200
    body = response.json
    assert body["model"] == "openai.gpt-4o-mini" and body["fallback_from"] == PRIMARY
    assert body["provider_model"] == "gpt-4o-mini"
    assert response.headers["X-LLMGateway-Fallback"] == PRIMARY
    assert response.headers["X-LLMGateway-Model"] == "gpt-4o-mini"
    assert [r["json"]["model"] for r in fake_openai.requests] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    [row] = ledger_rows(app)
    assert row["model"] == PRIMARY and row["provider_model"] == "gpt-4o-mini"
    assert row["fallback_from"] == PRIMARY and row["status_code"] == 200
    assert [(a["provider_model"], a["error"]) for a in row["attempts"]] == [("gpt-4o", "server_error")] * 2


def test_non_matching_error_is_returned_without_fallback(make_app, fake_openai):
    app = make_app(
        fallbacks=rule("openai.gpt-4o-mini", codes=["rate_limit_exceeded"]),
        retries=TWO_ATTEMPTS,
        circuit_breaker={"enabled": False},
    )
    fake_openai.push("status", status=503, body=ERROR_BODY)
    fake_openai.push("status", status=503, body=ERROR_BODY)

    response = complete(app.test_client())

    assert response.status_code == 502
    assert {r["json"]["model"] for r in fake_openai.requests} == {"gpt-4o"}
    [row] = ledger_rows(app)
    assert row["fallback_from"] is None and row["provider_model"] == "gpt-4o"


def test_fallback_crosses_providers_and_works_for_streams(make_app, fake_openai, backup_fake):
    app = make_app(
        providers={
            **openai_section(fake_openai),
            "backupai": {"api_key": FakeOpenAI.api_key, "base_url": backup_fake.url + "/v1"},
        },
        fallbacks=rule("backupai.small-model"),
        retries={**FAST_RETRIES, "max_attempts": 1},
        circuit_breaker={"enabled": False},
    )
    fake_openai.push("status", status=429, headers={"Retry-After": "60"}, body={"error": {"message": "slow down"}})

    response = complete(app.test_client(), "/api/v1/completion/stream")

    assert response.status_code == 200
    assert response.headers["X-LLMGateway-Fallback"] == PRIMARY
    assert response.headers["X-LLMGateway-Provider"] == "backupai"
    events = sse_events(response.data)
    assert events[-1] == "[DONE]"
    first = json.loads(events[0])
    assert first["model"] == "backupai.small-model" and first["fallback_from"] == PRIMARY
    assert len(fake_openai.requests) == 1 and backup_fake.requests[0]["json"]["model"] == "small-model"
    [row] = ledger_rows(app)
    assert row["provider"] == "backupai" and row["provider_model"] == "small-model"
    assert row["fallback_from"] == PRIMARY


def test_an_open_breaker_falls_back_without_calling_the_failing_deployment(make_app, fake_openai):
    app = make_app(
        fallbacks=rule("openai.gpt-4o-mini"),
        retries={**FAST_RETRIES, "max_attempts": 1},
        circuit_breaker={"fail_max": 2, "reset_timeout": 30},
    )
    client = app.test_client()
    for _ in range(2):  # the primary fails, the fallback answers; twice
        fake_openai.push("status", status=500, body=ERROR_BODY)
        assert complete(client).status_code == 200
    hits = len(fake_openai.requests)

    response = complete(client)

    assert response.status_code == 200 and response.json["fallback_from"] == PRIMARY
    assert [r["json"]["model"] for r in fake_openai.requests[hits:]] == ["gpt-4o-mini"]  # gpt-4o not called


def test_context_length_falls_back_only_when_listed(make_app, fake_openai):
    long_chat = {**CHAT, "model": PRIMARY, "messages": [{"role": "user", "content": "word " * 9000}]}
    app = make_app(fallbacks=rule("openai.gpt-4o-mini"), circuit_breaker={"enabled": False})

    response = app.test_client().post("/api/v1/completion", json=long_chat, headers=auth(COMPLETION_KEY))

    assert response.status_code == 400
    assert response.json["error"]["code"] == "context_length_exceeded"
    assert [r["json"]["model"] for r in fake_openai.requests] == ["gpt-4o"]  # not in the default codes


def test_a_rule_naming_an_unknown_model_stops_start_up(make_app):
    from llmgateway.errors import ConfigError

    with pytest.raises(ConfigError, match=r"fallbacks\.rules\.0\.fallback_models"):
        make_app(fallbacks=rule("nosuchvendor-model"))
