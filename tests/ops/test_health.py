"""GET /health (liveness) and GET /health/ready (database, Redis, providers), and their OpenAPI entries."""

from __future__ import annotations

from tests.conftest import ADMIN_KEY


def get(client, path: str):
    with client.get(path) as response:
        return response


def test_liveness_needs_no_credentials(make_app):
    client = make_app().test_client()
    response = get(client, "/health")
    assert response.status_code == 200 and response.json == {"status": "healthy"}


def test_ready_when_database_and_a_provider_are_there(client):
    response = get(client, "/health/ready")
    assert response.status_code == 200
    assert response.json["status"] == "healthy"
    assert response.json["checks"] == {
        "database": "ok",
        "redis": "not_configured",
        "providers": ["openai"],
        "ledger": "ok",
        "admission": "ok",
    }
    assert response.json["ledger_backlog"] == 0


def test_redis_down_is_degraded_but_still_ready(app, client):
    app.extensions["llmgateway"].extras["redis_health"] = lambda: "down"
    response = get(client, "/health/ready")
    assert response.status_code == 200
    assert response.json["status"] == "degraded" and response.json["checks"]["redis"] == "down"


def test_no_provider_configured_is_not_ready(make_app):
    client = make_app(providers={"openai": {"api_key": None}}).test_client()
    response = get(client, "/health/ready")
    assert response.status_code == 503
    assert response.json["status"] == "unhealthy" and response.json["checks"]["providers"] == []


def test_database_down_degrades_but_still_serves(make_app):
    dead = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
    client = make_app(db_url=dead, database={"auto_upgrade": False}).test_client()
    ready = get(client, "/health/ready")
    assert ready.status_code == 200  # seen keys authenticate from memory; usage rows wait in the spool
    assert ready.json["status"] == "degraded" and ready.json["checks"]["database"] == "down"
    assert get(client, "/health").status_code == 200


def test_health_and_metrics_are_documented_in_openapi(client):
    with client.get("/openapi.json", headers={"X-API-Key": ADMIN_KEY}) as response:
        paths = response.json["paths"]
    ready = paths["/health/ready"]["get"]["responses"]
    assert {"200", "503"} <= set(ready)
    assert "/health" in paths and "/metrics" in paths
    schemas = response.json["components"]["schemas"]
    assert schemas["Readiness"]["properties"]["status"]["enum"] == ["healthy", "degraded", "unhealthy"]
