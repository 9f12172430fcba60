"""GET /metrics in one process (the plain registry): token, switch, label bounds and the hooks for other parts."""

from __future__ import annotations

from llmgateway.core.admission import OpenAdmission
from llmgateway.core.usage import UsageCall
from llmgateway.errors import BudgetExceeded
from llmgateway.providers.types import Usage
from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, auth
from tests.ops.metrics_text import value

TOKEN = "scrape-token-0123456789abcdef"


def post(client, path: str, body: dict, key: str = COMPLETION_KEY):
    with client.post(path, json=body, headers=auth(key)) as response:  # closing runs the request's end hooks
        return response.status_code


def scrape(client, **headers: str):
    with client.get("/metrics", headers=headers) as response:
        return response


def test_metrics_are_public_by_default_and_count_requests(client, fake_openai):
    assert post(client, "/api/v1/completion", CHAT) == 200
    response = scrape(client)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    labels = {"route": "/api/v1/completion", "status": "200", "model": CHAT["model"], "provider": "openai"}
    assert value(text, "llmgateway_requests_total", **labels) == 1
    assert value(text, "llmgateway_tokens_total", type="completion") == fake_openai.served[-1].completion_tokens


def test_a_metrics_token_is_required_when_configured(make_app):
    client = make_app(metrics={"token": TOKEN}).test_client()
    missing = scrape(client)
    wrong = scrape(client, Authorization="Bearer not-the-token-at-all")
    right = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert missing.status_code == 401 and missing.json["error"]["code"] == "authentication_required"
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "invalid_token"
    assert TOKEN not in wrong.get_data(as_text=True)
    assert right.status_code == 200 and b"llmgateway_requests_total" in right.data


def test_metrics_can_be_switched_off_or_put_behind_admin_keys(make_app):
    off = make_app(metrics={"enabled": False}).test_client()
    assert scrape(off).status_code == 404
    private = make_app(server={"public_paths": ["/health", "/health/ready"]}).test_client()
    assert scrape(private).status_code == 401
    assert scrape(private, **{"X-API-Key": COMPLETION_KEY}).status_code == 403
    assert scrape(private, **{"X-API-Key": ADMIN_KEY}).status_code == 200


def test_client_chosen_models_cannot_grow_the_label_set_without_bound(make_app, fake_openai):
    client = make_app(metrics={"max_model_labels": 2}).test_client()
    for name in ("a", "b", "c", "d"):
        assert post(client, "/api/v1/completion", {**CHAT, "model": f"openai.model-{name}"}) == 200
    text = scrape(client).get_data(as_text=True)
    route = "/api/v1/completion"
    assert value(text, "llmgateway_requests_total", route=route, model="openai.model-a") == 1
    assert value(text, "llmgateway_requests_total", route=route, model="openai.model-b") == 1
    assert value(text, "llmgateway_requests_total", route=route, model="other") == 2
    assert value(text, "llmgateway_requests_total", route=route, model="openai.model-c") == 0


class RefusingAdmission(OpenAdmission):
    def admit(self, call, estimate):
        raise BudgetExceeded()


def test_gateway_rejections_count_as_rate_limited_but_upstream_429s_do_not(app, client, fake_openai):
    fake_openai.push("status", status=429, body={"error": {"message": "slow down", "type": "rate_limit"}})
    assert post(client, "/api/v1/completion", CHAT) == 429
    app.extensions["llmgateway"].gateway.admission = RefusingAdmission()
    assert post(client, "/api/v1/completion", CHAT) == 429
    text = scrape(client).get_data(as_text=True)
    rejected = "llmgateway_rate_limit_rejections_total"
    assert value(text, rejected, route="/api/v1/completion", code="budget_exceeded") == 1
    assert value(text, rejected, code="rate_limit_exceeded") == 0
    assert value(text, "llmgateway_upstream_errors_total", provider="openai", code="rate_limit_exceeded") == 1


def test_fallbacks_cache_hits_and_breaker_states_are_exposed(app, client):
    metrics = app.extensions["llmgateway"].metrics
    call = UsageCall(endpoint="completion", principal=None)
    call.model, call.provider, call.fallback_from = "anthropic.claude-3-haiku", "anthropic", "openai.gpt-4o"
    call.cache_status, call.cached, call.usage, call.saved_cost_usd = "HIT", True, Usage(10, 5), 0.25
    line = {"route": "/api/v1/completion", "method": "POST", "status": 200}
    metrics.observe(line, call, 0.01)
    metrics.set_breaker_state("openai@http://x/v1:gpt-4o", "openai", "gpt-4o", "open")
    text = scrape(client).get_data(as_text=True)
    assert value(text, "llmgateway_fallbacks_total", from_model="openai.gpt-4o", to_model=call.model) == 1
    assert value(text, "llmgateway_cache_requests_total", result="hit") == 1
    assert value(text, "llmgateway_cache_saved_cost_usd_total", provider="anthropic") == 0.25
    assert value(text, "llmgateway_circuit_breaker_state", model="gpt-4o", state="open") == 1
    assert value(text, "llmgateway_circuit_breaker_state", model="gpt-4o", state="closed") == 0
    metrics.set_breaker_state("openai@http://x/v1:gpt-4o", "openai", "gpt-4o", "closed")
    text = scrape(client).get_data(as_text=True)
    assert value(text, "llmgateway_circuit_breaker_state", model="gpt-4o", state="open") == 0
    assert value(text, "llmgateway_circuit_breaker_state", model="gpt-4o", state="closed") == 1


def test_in_flight_gauges_cover_an_open_stream(client, fake_openai):
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY), buffered=False)
    try:
        text = scrape(client).get_data(as_text=True)
        assert value(text, "llmgateway_streams_in_flight") == 1
        assert value(text, "llmgateway_requests_in_flight") == 2  # the stream and the scrape
    finally:
        response.close()
    text = scrape(client).get_data(as_text=True)
    assert value(text, "llmgateway_streams_in_flight") == 0
    assert value(text, "llmgateway_requests_in_flight") == 1


def test_the_rate_limiters_429s_are_counted_as_rejections(make_app, fake_openai):
    client = make_app(rate_limits={"enabled": True, "default": "2/minute"}).test_client()
    statuses = [post(client, "/api/v1/completion", CHAT) for _ in range(3)]
    assert statuses == [200, 200, 429]
    for _ in range(3):
        assert scrape(client).status_code == 200  # /metrics is not rate limited
    text = scrape(client).get_data(as_text=True)
    rejected = "llmgateway_rate_limit_rejections_total"
    assert value(text, rejected, route="/api/v1/completion", code="rate_limit_exceeded") == 1


def test_an_opened_circuit_breaker_shows_in_the_state_gauge(make_app, fake_openai):
    client = make_app(circuit_breaker={"fail_max": 2, "reset_timeout": 60}, retries={"max_attempts": 1}).test_client()
    for _ in range(2):
        fake_openai.push("status", status=503, body={"error": {"message": "overloaded"}})
        assert post(client, "/api/v1/completion", CHAT) == 502
    assert post(client, "/api/v1/completion", CHAT) == 503  # open: fails fast
    text = scrape(client).get_data(as_text=True)
    gauge = "llmgateway_circuit_breaker_state"
    assert value(text, gauge, provider="openai", model="gpt-4o-mini", state="open") == 1
    assert value(text, gauge, provider="openai", model="gpt-4o-mini", state="closed") == 0
