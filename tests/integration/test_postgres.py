"""The gateway on a real PostgreSQL: schema upgrade, keys, and ledger records that match the upstream."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text

from llmgateway.infra.schema import upgrade_schema
from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth, ledger_rows

pytestmark = pytest.mark.integration


def test_upgrade_on_an_empty_postgresql_and_again(pg_url):
    upgrade_schema(pg_url)
    upgrade_schema(pg_url)  # idempotent
    engine = create_engine(pg_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"api_keys", "usage_records", "alembic_version"} <= tables
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("usage_records")}
        assert "ix_usage_report" in indexes
    finally:
        engine.dispose()


def test_requests_are_recorded_in_postgresql(make_app, pg_url, fake_openai):
    app = make_app(db_url=pg_url)
    client = app.test_client()
    plain = client.post("/api/v1/completion", json={**CHAT, "metadata": {"team": "a"}}, headers=auth(COMPLETION_KEY))
    streamed = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY))
    embedded = client.post(
        "/api/v1/embedding", json={"model": "text-embedding-3-small", "input": ["one two"]}, headers=auth(EMBEDDING_KEY)
    )
    rejected = client.post("/api/v1/completion", json={**CHAT, "temperature": 9}, headers=auth(COMPLETION_KEY))
    assert [r.status_code for r in (plain, streamed, embedded, rejected)] == [200, 200, 200, 400]
    assert streamed.data.endswith(b"data: [DONE]\n\n")

    rows = {r["request_id"]: r for r in ledger_rows(app)}
    assert len(rows) == 4
    served = {(s.path, s.prompt_tokens, s.completion_tokens) for s in fake_openai.served}
    recorded = {
        (
            ("/v1/embeddings" if r["endpoint"] == "embedding" else "/v1/chat/completions"),
            r["prompt_tokens"],
            r["completion_tokens"],
        )
        for r in rows.values()
        if r["status_code"] == 200
    }
    assert recorded == served
    assert rows[plain.headers["X-LLMGateway-Request-ID"]]["request_metadata"] == {"team": "a"}
    bad = rows[rejected.headers["X-LLMGateway-Request-ID"]]
    assert (bad["status_code"], bad["error_code"], bad["total_tokens"], bad["model"]) == (
        400,
        "invalid_request",
        0,
        "openai.gpt-4o-mini",
    )

    today = datetime.now(UTC).date().isoformat()
    report = client.get(
        f"/api/v1/admin/usage?startDate={today}&endDate={today}&groupBy=day", headers=auth(ADMIN_KEY)
    ).json
    assert report["groups"][0]["key"] == today and report["totals"]["requests"] == 4


def test_the_same_request_id_is_written_once(make_app, pg_url):
    app = make_app(db_url=pg_url)
    svc = app.extensions["llmgateway"]
    row = {
        "request_id": "11111111-1111-1111-1111-111111111111",
        "client_request_id": None,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "api_key_id": None,
        "owner": None,
        "user": None,
        "endpoint": "completion",
        "model": "m",
        "provider": "openai",
        "provider_model": "m",
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "tokens_estimated": False,
        "cost_usd": 0.0,
        "saved_cost_usd": 0.0,
        "latency_ms": 1.0,
        "ttft_ms": None,
        "status_code": 200,
        "error_code": None,
        "cached": False,
        "streamed": False,
        "fallback_from": None,
        "attempts": None,
        "metadata": None,
        "error_detail": None,
    }
    for _ in range(3):
        svc.ledger.record(dict(row))
    assert svc.ledger.flush(10)
    with svc.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM usage_records")).scalar_one() == 1


def test_key_lookup_resists_injection(make_app, pg_url):
    app = make_app(db_url=pg_url)
    client = app.test_client()
    for payload in ("' OR '1'='1", "gw_abcdefghijkl_' OR 1=1 --", '"; DROP TABLE api_keys; --', "%", "_"):
        assert client.get("/api/v1/models", headers=auth(payload)).status_code == 401
    with app.extensions["llmgateway"].engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 3
    assert json.loads(client.get("/api/v1/models", headers=auth(ADMIN_KEY)).data)["object"] == "list"
