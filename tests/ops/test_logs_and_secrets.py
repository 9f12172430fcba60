"""Logs through real gunicorn: one JSON record per request, request ids reach the upstream, and no secret
ever appears in a log line, a response body or a header (QUALITY S2, S10)."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid

import pytest
import requests

from llmgateway.api.security import public
from llmgateway.infra.logging import configure_logging
from tests.conftest import CHAT, COMPLETION_KEY, base_config
from tests.gunicorn_runner import GunicornGateway

pytestmark = pytest.mark.slow


def canary(kind: str) -> str:
    return f"canary-{kind}-{uuid.uuid4().hex}"


@pytest.fixture
def canaries(fake_openai):
    """Unique secrets for everything the gateway must never reveal; the fake upstream's key is one of them."""
    secrets = {
        "admin_key": canary("admin-key"),
        "completion_key": canary("completion-key"),
        "embedding_key": canary("embedding-key"),
        "wrong_key": canary("wrong-key"),
        "provider_key": "sk-" + canary("provider-key"),
        "pepper": canary("pepper"),
        "jwt_secret": canary("jwt-secret"),
        "metrics_token": canary("metrics-token"),
    }
    fake_openai.api_key = secrets["provider_key"]  # an instance attribute shadows the class default
    yield secrets
    del fake_openai.api_key


def gateway_config(pg_url: str, upstream: str, secrets: dict[str, str]) -> dict:
    return base_config(
        pg_url,
        upstream,
        secret_key=secrets["pepper"],
        jwt={"secret": secrets["jwt_secret"]},
        api_keys=[
            {"key": secrets["admin_key"], "owner": "Admin", "permissions": ["admin"]},
            {"key": secrets["completion_key"], "owner": "Team A", "permissions": ["completion"]},
            {"key": secrets["embedding_key"], "owner": "Team B", "permissions": ["embedding"]},
        ],
        providers={"openai": {"api_key": secrets["provider_key"], "base_url": upstream + "/v1"}},
        metrics={"token": secrets["metrics_token"]},
        retries={"max_attempts": 1},
        logging={"level": "DEBUG"},
    )


def test_no_secret_reaches_logs_or_responses_on_error_paths(tmp_path, pg_url, fake_openai, canaries):
    seen: list[str] = []

    def call(method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, gw.url + path, timeout=30, **kwargs)
        seen.append(response.text)
        seen.extend(f"{k}: {v}" for k, v in response.headers.items())
        return response

    key = {"X-API-Key": canaries["completion_key"]}
    config = gateway_config(pg_url, fake_openai.url, canaries)
    with GunicornGateway(tmp_path, config, env={"GUNICORN_LOG_LEVEL": "debug"}) as gw:
        # The one deliberate disclosure: a JWT, issued to the key's holder (not swept), then used on error paths.
        token = requests.post(gw.url + "/api/v1/auth/token", headers=key, timeout=30).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        statuses = [
            call("POST", "/api/v1/completion", json=CHAT).status_code,  # no credential
            call("POST", "/api/v1/completion", json=CHAT, headers={"X-API-Key": canaries["wrong_key"]}).status_code,
            call("POST", "/api/v1/completion", json=CHAT, headers={"Authorization": f"Bearer {token}x"}).status_code,
            call("POST", "/api/v1/completion", json=CHAT, headers={"X-API-Key": canaries["embedding_key"]}).status_code,
            call("GET", "/api/v1/admin/keys", headers=bearer).status_code,  # 403 with a JWT
            call("POST", "/api/v1/completion", json={**CHAT, "temperature": 9}, headers=key).status_code,
            call(
                "POST", "/api/v1/completion", data=b"{not json", headers={**key, "Content-Type": "application/json"}
            ).status_code,
            call("POST", "/api/v1/completion", json={**CHAT, "api_key": "x"}, headers=bearer).status_code,
            call("GET", "/metrics").status_code,
            call("GET", "/metrics", headers={"Authorization": f"Bearer {canaries['wrong_key']}"}).status_code,
        ]
        assert statuses == [401, 401, 401, 403, 403, 400, 400, 400, 401, 401]
        # The provider refuses the gateway's key, echoing it as OpenAI does; then it fails; then a stream is cut.
        refusal = f"Incorrect API key provided: {canaries['provider_key']}"
        echo = {"error": {"message": refusal, "code": "invalid_api_key"}}
        fake_openai.push("status", status=401, body=echo)
        assert call("POST", "/api/v1/completion", json=CHAT, headers=bearer).status_code == 502
        fake_openai.push("status", status=500, body={"error": {"message": canaries["provider_key"]}})
        assert call("POST", "/api/v1/completion", json=CHAT, headers=key).status_code == 502
        fake_openai.push("cut_after", after=2)
        cut = call("POST", "/api/v1/completion/stream", json=CHAT, headers=bearer)
        assert cut.status_code == 200 and '"error"' in cut.text and "[DONE]" not in cut.text
        scrape = call("GET", "/metrics", headers={"Authorization": f"Bearer {canaries['metrics_token']}"})
        assert scrape.status_code == 200
        gw.wait_for_request_lines({cut.headers["X-LLMGateway-Request-ID"]})
        logs = gw.stderr_text() + gw.stdout_text()

    assert any('"level":"debug"' in line for line in logs.splitlines()), "the sweep must run at DEBUG"
    secrets = {**canaries, "jwt": token}
    everything = logs + "\n".join(seen)
    leaks = {name for name, secret in secrets.items() if secret in everything or secret[-24:] in everything}
    assert leaks == set()


def test_a_forged_log_line_in_the_model_stays_one_json_record(tmp_path, pg_url, fake_openai):
    forged = 'gpt-4o\r\n{"level":"error","event":"forged","logger":"llmgateway.request"}\n'
    config = base_config(pg_url, fake_openai.url, logging={"level": "DEBUG"})
    with GunicornGateway(tmp_path, config, workers=1) as gw:
        response = requests.post(
            gw.url + "/api/v1/completion",
            json={**CHAT, "model": forged},
            headers={"X-API-Key": COMPLETION_KEY, "X-Request-ID": "client-id-42"},
            timeout=30,
        )
        request_id = response.headers["X-LLMGateway-Request-ID"]
        gw.wait_for_request_lines({request_id})
        lines = gw.stderr_text().splitlines()

    records = [json.loads(line) for line in lines if line.strip()]  # every line is one JSON document
    assert not any(r.get("event") == "forged" for r in records)
    [record] = [r for r in records if r.get("logger") == "llmgateway.request" and r.get("request_id") == request_id]
    assert record["model"] == forged and record["client_request_id"] == "client-id-42"
    assert record["status"] == response.status_code


def test_the_request_id_reaches_the_upstream(client, fake_openai):
    with client.post("/api/v1/completion", json=CHAT, headers={"X-API-Key": COMPLETION_KEY}) as response:
        assert response.status_code == 200
    request_id = response.headers["X-LLMGateway-Request-ID"]
    assert fake_openai.headers_seen[-1]["x-request-id"] == request_id


def test_log_records_inside_a_request_carry_its_request_id(app, client, monkeypatch):
    buffer = io.StringIO()
    with monkeypatch.context() as patched:
        patched.setattr(sys, "stderr", buffer)
        configure_logging("INFO", "json")  # a handler writing to the buffer

    @app.get("/_probe")
    @public
    def probe() -> str:
        logging.getLogger("llmgateway.test").warning("inside")
        return "ok"

    try:
        with client.get("/_probe") as response:
            request_id = response.headers["X-LLMGateway-Request-ID"]
    finally:
        configure_logging("WARNING", "json")  # back to the real stderr
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    [inside] = [r for r in records if r.get("event") == "inside"]
    assert inside["request_id"] == request_id and inside["level"] == "warning"
    [line] = [r for r in records if r.get("logger") == "llmgateway.request"]
    assert line["request_id"] == request_id and line["route"] == "/_probe"
