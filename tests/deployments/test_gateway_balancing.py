"""Deployments through the whole gateway on real Redis: weighted shares, failover, least busy, the admin view."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import ADMIN_KEY, COMPLETION_KEY, auth
from tests.ops.metrics_text import value

POOL_CHAT = {"model": "pool", "messages": [{"role": "user", "content": "hello there"}]}


def ask(client, body=POOL_CHAT):
    return client.post("/api/v1/completion", json=body, headers=auth(COMPLETION_KEY))


def deployments(client) -> dict[str, dict]:
    answer = client.get("/api/v1/admin/deployments", headers=auth(ADMIN_KEY))
    assert answer.status_code == 200
    return {row["name"]: row for row in answer.get_json()["data"]}


def test_weights_3_to_1_split_400_requests_3_to_1(pool_app, alpha, beta):
    client = pool_app(weights=(3, 1)).test_client()
    answered = Counter()
    for _ in range(400):
        answer = ask(client)
        assert answer.status_code == 200
        answered[answer.headers["X-LLMGateway-Deployment"]] += 1
    assert abs(answered["alpha/llama-a"] - 300) <= 15 and abs(answered["beta/llama-b"] - 100) <= 5, answered
    assert len(alpha.requests) == answered["alpha/llama-a"] and len(beta.requests) == answered["beta/llama-b"]
    assert beta.headers_seen[-1]["x-team"] == "beta-team"
    rows = deployments(client)
    assert rows["alpha/llama-a"]["weight"] == 3 and rows["alpha/llama-a"]["requests"] == answered["alpha/llama-a"]
    assert rows["beta/llama-b"]["state"] == "healthy" and rows["beta/llama-b"]["in_flight"] == 0
    metrics = client.get("/metrics").data.decode()
    assert value(metrics, "llmgateway_deployment_requests", deployment="alpha/llama-a") == answered["alpha/llama-a"]
    assert value(metrics, "llmgateway_deployment_weight", deployment="alpha/llama-a", model="pool") == 3
    assert value(metrics, "llmgateway_deployment_state", deployment="beta/llama-b", state="healthy") == 1
    assert value(metrics, "llmgateway_deployment_in_flight", deployment="beta/llama-b") == 0
    assert value(metrics, "llmgateway_deployment_latency_seconds", deployment="beta/llama-b") > 0


def test_a_failing_deployment_is_skipped_and_its_breaker_opens(pool_app, alpha, beta, sqlite_url):
    client = pool_app(extra={"circuit_breaker": {"fail_max": 3, "reset_timeout": 60}}).test_client()
    for _ in range(200):
        beta.push(
            "status",
            status=500,
            body={"error": {"message": "boom", "type": "server_error", "param": None, "code": None}},
        )
    answers = [ask(client) for _ in range(40)]
    assert all(a.status_code == 200 for a in answers)
    assert all(a.headers["X-LLMGateway-Deployment"] == "alpha/llama-a" for a in answers)
    assert len(beta.requests) == 3  # after fail_max failures its breaker is open: no more calls
    row = deployments(client)["beta/llama-b"]
    assert row["state"] == "open" and row["errors"] == 3
    metrics = client.get("/metrics").data.decode()
    assert value(metrics, "llmgateway_deployment_state", deployment="beta/llama-b", state="open") == 1
    assert value(metrics, "llmgateway_deployment_error_rate", deployment="beta/llama-b") > 0.4
    breakers = client.get("/api/v1/admin/breakers", headers=auth(ADMIN_KEY)).get_json()["data"]
    assert [b["state"] for b in breakers if b["provider"] == "beta"] == ["open"]


def test_least_busy_sends_most_load_to_the_fast_deployment(pool_app, alpha, beta):
    client = pool_app(strategy="least_busy").test_client()
    for _ in range(200):
        beta.push("delay", seconds=0.4)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: ask(client), range(80)))
    assert all(a.status_code == 200 for a in answers)
    served = Counter(a.headers["X-LLMGateway-Deployment"] for a in answers)
    assert served["alpha/llama-a"] >= 0.75 * 80, served


def wait_for(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_two_gateway_instances_share_in_flight_counts(pool_app, alpha, beta):
    # Instance one tries alpha first (`ordered`) and holds three requests there; instance two balances by
    # `least_busy`: it sees those three through Redis and sends all of its own to beta. Alone, two would see
    # both idle and alternate.
    fast_sync = {"balancing": {"sync_interval": 0.05}}
    one = pool_app(strategy="ordered", extra=fast_sync).test_client()
    two = pool_app(strategy="least_busy", extra=fast_sync).test_client()
    for _ in range(3):
        alpha.push("delay", seconds=2.0)
    held = [threading.Thread(target=ask, args=(one,)) for _ in range(3)]
    for thread in held:
        thread.start()
    try:
        assert wait_for(lambda: deployments(two)["alpha/llama-a"]["in_flight"] == 3)
        answers = [ask(two) for _ in range(6)]
        assert [a.headers["X-LLMGateway-Deployment"] for a in answers] == ["beta/llama-b"] * 6
    finally:
        for thread in held:
            thread.join()
    assert wait_for(lambda: deployments(two)["alpha/llama-a"]["in_flight"] == 0)
    assert len(alpha.requests) == 3 and len(beta.requests) == 6


def test_a_deployment_turned_to_500s_mid_load_loses_no_request(pool_app, alpha, beta):
    breaker = {"circuit_breaker": {"fail_max": 5, "reset_timeout": 60}}
    client = pool_app(strategy="least_busy", extra=breaker).test_client()
    answers = []
    turned = threading.Event()

    def load(worker: int) -> None:
        for index in range(15):
            if worker == 0 and index == 5:  # a third of the way in, beta starts failing every call
                for _ in range(500):
                    beta.push(
                        "status",
                        status=503,
                        body={"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}},
                    )
                turned.set()
            answers.append(ask(client))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(load, range(8)))
    assert turned.is_set() and len(answers) == 120
    assert [a.status_code for a in answers] == [200] * 120
    served = Counter(a.headers["X-LLMGateway-Deployment"] for a in answers)
    assert served["beta/llama-b"] > 0 and served["alpha/llama-a"] > served["beta/llama-b"]
    assert deployments(client)["beta/llama-b"]["state"] == "open"


def test_the_admin_view_is_admin_only_and_documented(pool_app):
    client = pool_app().test_client()
    assert client.get("/api/v1/admin/deployments", headers=auth(COMPLETION_KEY)).status_code == 403
    spec = client.get("/openapi.json").get_json()
    documented = spec["paths"]["/api/v1/admin/deployments"]["get"]["responses"]["200"]
    assert "DeploymentList" in str(documented)
    rows = deployments(client)
    assert set(rows) == {"alpha/llama-a", "beta/llama-b"}
    assert rows["alpha/llama-a"] == {
        "model": "pool",
        "name": "alpha/llama-a",
        "provider": "alpha",
        "provider_model": "llama-a",
        "strategy": "weighted",
        "weight": 1.0,
        "state": "healthy",
        "in_flight": 0,
        "latency_ms": None,
        "error_rate": 0.0,
        "requests": 0,
        "errors": 0,
        "cooldown_until": None,
    }


def test_each_deployment_has_its_own_connection_pool(make_app, alpha):
    provider = {"type": "openai_compatible", "base_url": alpha.url + "/v1", "api_key": "sk-fake-openai-key"}
    app = make_app(
        providers={"alpha": provider},
        routing={
            "model_mappings": [
                {
                    "model_id": "pool",
                    "deployments": [
                        {"provider": "alpha", "provider_model_id": "small"},
                        {"provider": "alpha", "provider_model_id": "large"},
                    ],
                }
            ]
        },
    )
    client = app.test_client()
    assert [ask(client).headers["X-LLMGateway-Deployment"] for _ in range(2)] == ["alpha/small", "alpha/large"]
    svc = app.extensions["llmgateway"]
    pools = svc.extras["deployment_pools"]
    adapters = {
        id(pools["alpha/small"].transport.adapter),
        id(pools["alpha/large"].transport.adapter),
        id(svc.providers["alpha"].transport.adapter),
    }
    assert len(adapters) == 3
    assert all(len(p.transport.adapter.poolmanager.pools) == 1 for p in (pools["alpha/small"], pools["alpha/large"]))
    assert len(svc.providers["alpha"].transport.adapter.poolmanager.pools) == 0  # the deployments used their own
