"""GET /metrics through real gunicorn with 2 gevent workers: counts equal the traffic sent, summed over workers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import CHAT, COMPLETION_KEY, base_config
from tests.gunicorn_runner import GunicornGateway
from tests.ops.metrics_text import samples, value

pytestmark = pytest.mark.slow

COMPLETION, STREAM, HEALTH = "/api/v1/completion", "/api/v1/completion/stream", "/health"
MODEL = CHAT["model"]


def send(url: str, path: str, *, key: str | None = COMPLETION_KEY, body: dict | None = None) -> requests.Response:
    """One request on its own connection (so both workers get a share), body fully read."""
    headers = {"Connection": "close"}
    if key:
        headers["X-API-Key"] = key
    if body is None:
        return requests.get(url + path, headers=headers, timeout=30)
    return requests.post(url + path, json=body, headers=headers, timeout=30)


def test_metrics_count_exactly_the_traffic_over_both_workers(tmp_path, pg_url, fake_openai):
    config = base_config(pg_url, fake_openai.url, retries={"max_attempts": 1}, logging={"level": "INFO"})
    fake_openai.chunk_delay = 0.01
    with GunicornGateway(tmp_path, config, workers=2) as gw:
        with ThreadPoolExecutor(8) as pool:
            oks = list(pool.map(lambda _: send(gw.url, COMPLETION, body=CHAT), range(6)))
            streams = list(pool.map(lambda _: send(gw.url, STREAM, body=CHAT), range(4)))
            unauthenticated = list(pool.map(lambda _: send(gw.url, COMPLETION, key=None, body=CHAT), range(3)))
            unknown = list(pool.map(lambda _: send(gw.url, COMPLETION, body={**CHAT, "model": "nope-model"}), range(2)))
        fake_openai.push("status", status=500, body={"error": {"message": "boom", "type": "server_error"}})
        failed = send(gw.url, COMPLETION, body=CHAT)
        assert [r.status_code for r in oks + streams] == [200] * 10
        assert [r.status_code for r in unauthenticated + unknown] == [401] * 3 + [404] * 2
        assert failed.status_code == 502

        # Spread health checks until both workers have served something (bounded), counting what we sent.
        health_sent = gw.health_probes
        for _ in range(20):
            with ThreadPoolExecutor(8) as pool:
                health = list(pool.map(lambda _: send(gw.url, HEALTH, key=None), range(8)))
            health_sent += len(health)
            ids = {r.headers["X-LLMGateway-Request-ID"] for r in health}
            gw.wait_for_request_lines(ids)
            if len({r["pid"] for r in gw.request_records()}) >= 2:
                break
        every = oks + streams + unauthenticated + unknown + [failed]
        gw.wait_for_request_lines({r.headers["X-LLMGateway-Request-ID"] for r in every})
        assert len({r["pid"] for r in gw.request_records()}) == 2, "one worker served everything"

        scrapes = [send(gw.url, "/metrics", key=None) for _ in range(4)]
        time.sleep(0.5)  # a request is done for the gauges once the server closed it, just after the client read it
        settled = send(gw.url, "/metrics", key=None)

    served = fake_openai.served
    for scrape in scrapes:
        assert scrape.status_code == 200
        assert scrape.headers["Content-Type"].startswith("text/plain")
        text = scrape.text
        requests_total = "llmgateway_requests_total"
        labels = {"model": MODEL, "provider": "openai", "method": "POST"}
        assert value(text, requests_total, route=COMPLETION, status="200", **labels) == 6
        assert value(text, requests_total, route=STREAM, status="200", **labels) == 4
        assert value(text, requests_total, route=COMPLETION, status="401", model="", provider="") == 3
        assert value(text, requests_total, route=COMPLETION, status="404") == 2
        assert value(text, requests_total, route=COMPLETION, status="502", **labels) == 1
        assert value(text, requests_total, route=HEALTH, status="200") == health_sent
        assert value(text, "llmgateway_errors_total", route=COMPLETION, code="authentication_required") == 3
        assert value(text, "llmgateway_errors_total", route=COMPLETION, code="model_not_found") == 2
        assert value(text, "llmgateway_upstream_errors_total", provider="openai", code="server_error") == 1
        prompt = sum(s.prompt_tokens for s in served)
        completion = sum(s.completion_tokens for s in served)
        assert value(text, "llmgateway_tokens_total", provider="openai", type="prompt") == prompt
        assert value(text, "llmgateway_tokens_total", provider="openai", type="completion") == completion
        expected_cost = (prompt * 0.15 + completion * 0.6) / 1_000_000
        assert value(text, "llmgateway_cost_usd_total", provider="openai", model=MODEL) == pytest.approx(expected_cost)
        assert value(text, "llmgateway_time_to_first_token_seconds_count", model=MODEL) == 4
        assert value(text, "llmgateway_gateway_overhead_seconds_count", route=COMPLETION) == 7
        assert value(text, "llmgateway_request_duration_seconds_count", route=STREAM) == 4
        assert value(text, "llmgateway_cache_requests_total", route=COMPLETION, result="bypass") == 7
        assert {n for n, _, _ in samples(text)} >= {"llmgateway_ledger_backlog", "llmgateway_streams_in_flight"}
    assert value(settled.text, "llmgateway_streams_in_flight") == 0
    assert value(settled.text, "llmgateway_requests_in_flight") == 1  # the scrape itself, summed over both workers
