"""Models routes, key management over REST and CLI, and usage reports (REST and CLI agree)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth, ledger_rows


def test_models_list_detail_and_provider(client):
    listed = client.get("/api/v1/models", headers=auth(EMBEDDING_KEY))
    assert listed.status_code == 200 and listed.json["object"] == "list"
    ids = {m["id"] for m in listed.json["data"]}
    assert "openai.gpt-4o-mini" in ids
    detail = client.get("/api/v1/models/openai.gpt-4o-mini", headers=auth(COMPLETION_KEY)).json
    assert detail["pricing"] == {
        "input_per_million": 0.15,
        "output_per_million": 0.6,
        "cached_input_per_million": 0.075,
        "cache_write_per_million": 0.15,
        "cache_write_1h_per_million": 0.15,
    }
    inferred = client.get("/api/v1/models/gpt-4.1", headers=auth(COMPLETION_KEY)).json
    assert inferred["provider"] == "openai" and inferred["id"] == "gpt-4.1"
    slashed = client.get("/api/v1/models/openai.ft:gpt-4o/org", headers=auth(COMPLETION_KEY)).json
    assert slashed["provider_model_id"] == "ft:gpt-4o/org" and slashed["context_window"] is None
    assert client.get("/api/v1/models/nope-model", headers=auth(COMPLETION_KEY)).json["error"]["code"] == (
        "model_not_found"
    )
    by_provider = client.get("/api/v1/models/provider/OpenAI", headers=auth(COMPLETION_KEY))
    assert by_provider.status_code == 200 and by_provider.json["data"]
    missing = client.get("/api/v1/models/provider/acme", headers=auth(COMPLETION_KEY))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "provider_not_found"


def test_key_rest_lifecycle(client):
    created = client.post(
        "/api/v1/admin/keys",
        json={
            "owner": "Team C",
            "permissions": ["completion", "embedding"],
            "rate_limit": "10/minute",
            "tpm_limit": 5000,
            "budget_usd": 12.5,
            "budget_period": "month",
        },
        headers=auth(ADMIN_KEY),
    )
    assert created.status_code == 201
    body = created.json
    assert body["key"].startswith("gw_") and body["owner"] == "Team C"
    assert (body["rate_limit"], body["tpm_limit"], body["budget_usd"], body["budget_period"]) == (
        "10/minute",
        5000,
        12.5,
        "month",
    )
    listed = client.get("/api/v1/admin/keys", headers=auth(ADMIN_KEY)).json["data"]
    assert body["id"] in {k["id"] for k in listed}
    assert (
        client.post(
            "/api/v1/embedding", json={"model": "text-embedding-3-small", "input": "hi"}, headers=auth(body["key"])
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/admin/keys/{body['id']}", headers=auth(ADMIN_KEY)).status_code == 204
    assert (
        client.post(
            "/api/v1/embedding", json={"model": "text-embedding-3-small", "input": "hi"}, headers=auth(body["key"])
        ).status_code
        == 401
    )


def test_key_create_validation(client):
    for bad, param in (
        ({"owner": "x", "permissions": ["root"]}, "permissions.0"),
        ({"owner": "x", "permissions": []}, "permissions"),
        ({"owner": "x", "permissions": ["completion"], "rate_limit": "often"}, "rate_limit"),
        ({"owner": "x", "permissions": ["completion"], "budget_usd": 5}, "budget_period"),
        ({"permissions": ["completion"]}, "owner"),
        ({"owner": "x", "permissions": ["completion"], "tpm_limit": 10**12}, "tpm_limit"),
    ):
        response = client.post("/api/v1/admin/keys", json=bad, headers=auth(ADMIN_KEY))
        assert response.status_code == 400 and response.json["error"]["param"] == param, bad


def test_cli_keys_create_list_revoke(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "keys",
            "create",
            "--owner",
            "cli-team",
            "--permissions",
            "completion,embedding",
            "--rate-limit",
            "120/minute",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["key"].startswith("gw_") and created["permissions"] == ["completion", "embedding"]
    client = app.test_client()
    assert client.get("/api/v1/models", headers=auth(created["key"])).status_code == 200

    listed = json.loads(runner.invoke(args=["keys", "list", "--json"]).output)["data"]
    assert created["id"] in {k["id"] for k in listed} and all("key" not in k for k in listed)
    table = runner.invoke(args=["keys", "list"]).output
    assert "cli-team" in table and created["key"] not in table

    assert runner.invoke(args=["keys", "revoke", created["id"]]).exit_code == 0
    app.extensions["llmgateway"].authenticator.forget()
    assert client.get("/api/v1/models", headers=auth(created["key"])).status_code == 401
    assert runner.invoke(args=["keys", "revoke", created["id"]]).exit_code != 0
    bad = runner.invoke(args=["keys", "create", "--owner", "x", "--permissions", "root"])
    assert bad.exit_code == 2
    no_period = runner.invoke(
        args=["keys", "create", "--owner", "x", "--permissions", "completion", "--budget-usd", "5"]
    )
    assert no_period.exit_code == 2 and "--budget-period" in no_period.output
    assert "is required with --budget-usd" in no_period.output


def test_usage_report_rest_and_cli_agree(app, client, fake_openai):
    for key, user in ((COMPLETION_KEY, "alice"), (COMPLETION_KEY, None), (ADMIN_KEY, None)):
        body = {**CHAT, "user": user} if user else CHAT
        assert client.post("/api/v1/completion", json=body, headers=auth(key)).status_code == 200
    client.post("/api/v1/completion", json={**CHAT, "model": "nope-model"}, headers=auth(COMPLETION_KEY))
    client.post(
        "/api/v1/embedding", json={"model": "text-embedding-3-small", "input": ["a b c"]}, headers=auth(EMBEDDING_KEY)
    )
    rows = ledger_rows(app)
    assert len(rows) == 5
    today = datetime.now(UTC).date().isoformat()

    by_user = client.get(
        f"/api/v1/admin/usage?startDate={today}&endDate={today}&groupBy=user", headers=auth(ADMIN_KEY)
    ).json
    groups = {g["key"]: g for g in by_user["groups"]}
    assert groups["alice"]["requests"] == 1
    assert groups["Team A"]["requests"] == 2 and groups["Team A"]["errors"] == 1
    assert by_user["totals"]["requests"] == 5 and by_user["totals"]["errors"] == 1
    assert by_user["totals"]["total_tokens"] == sum(r["total_tokens"] for r in rows)
    assert abs(by_user["totals"]["cost_usd"] - sum(r["cost_usd"] for r in rows)) < 1e-9

    runner = app.test_cli_runner()
    for group in ("provider", "model", "user", "api_key", "day"):
        rest = client.get(
            f"/api/v1/admin/usage?startDate={today}&endDate={today}&groupBy={group}", headers=auth(ADMIN_KEY)
        ).json
        cli = runner.invoke(
            args=["usage", "report", "--start", today, "--end", today, "--group-by", group, "--format", "json"]
        )
        assert cli.exit_code == 0, cli.output
        assert json.loads(cli.output) == rest
    assert rest["groups"] == [{**rest["totals"], "key": today}]

    csv_text = client.get(
        f"/api/v1/admin/usage?startDate={today}&endDate={today}&groupBy=model&format=csv", headers=auth(ADMIN_KEY)
    ).data.decode()
    parsed = list(csv.DictReader(io.StringIO(csv_text)))
    assert parsed[-1]["key"] == "TOTAL" and int(parsed[-1]["requests"]) == 5
    table = runner.invoke(args=["usage", "report", "--start", today, "--end", today]).output
    assert "TOTAL" in table


def test_usage_report_dates_are_inclusive_and_validated(client, app, fake_openai):
    client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
    ledger_rows(app)
    today = datetime.now(UTC).date().isoformat()
    assert (
        client.get(f"/api/v1/admin/usage?startDate={today}&endDate={today}", headers=auth(ADMIN_KEY)).json["totals"][
            "requests"
        ]
        == 1
    )
    assert (
        client.get("/api/v1/admin/usage?startDate=2020-01-01&endDate=2020-01-31", headers=auth(ADMIN_KEY)).json[
            "totals"
        ]["requests"]
        == 0
    )
    for query in (
        "startDate=2024-02-30",
        "groupBy=owner",
        "startDate=2024-02-02&endDate=2024-02-01",
        "startDate=1%27%20OR%201=1--",
        "groupBy=model;DROP%20TABLE%20usage_records",
    ):
        response = client.get(f"/api/v1/admin/usage?{query}", headers=auth(ADMIN_KEY))
        assert response.status_code == 400, query
    assert len(ledger_rows(app)) == 1
