"""R5: Redis killed, frozen (SIGSTOP) or paused under load: no 5xx, bounded latency, recovery on its own."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import requests

from tests.conftest import ADMIN_KEY, CHAT, base_config
from tests.gunicorn_runner import GunicornGateway, free_port
from tests.limits.servers import redis_process

KEY = "test-outage-key-0123456789abcdefghi"
HEADERS = {"X-API-Key": KEY}
DETERMINISTIC = {**CHAT, "temperature": 0}
BODIES = [
    ("/api/v1/completion", DETERMINISTIC),  # cache read (and write after a miss)
    ("/api/v1/completion", {**CHAT, "temperature": 0.5}),  # bypass: limiter + quotas only
    ("/api/v1/completion/stream", {**CHAT, "temperature": 0.5}),
    ("/api/v1/embedding", {"model": "openai.text-embedding-3-small", "input": "hi"}),
]
LOAD_SECONDS = 9.0
FAULT_AT, FAULT_SECONDS = 2.0, 3.0
CONCURRENCY = 6


def run_load(url: str, stop_at: float, results: list[tuple[float, float, int]]) -> None:
    """One client loop until `stop_at`: (start offset, latency, status) per request."""
    session = requests.Session()
    i = 0
    while time.monotonic() < stop_at:
        path, body = BODIES[i % len(BODIES)]
        i += 1
        started = time.monotonic()
        try:
            status = session.post(url + path, json=body, headers=HEADERS, timeout=10).status_code
        except requests.RequestException:
            status = 0
        results.append((started, time.monotonic() - started, status))


def recovered(url: str, redis_client) -> bool:
    """Readiness healthy, the cache answers from Redis, and the rate-limit counters move in Redis again."""
    if requests.get(url + "/health/ready", timeout=5).json()["status"] != "healthy":
        return False
    before = sum(int(redis_client.get(k) or 0) for k in redis_client.keys("LLMGateway:limits*"))
    requests.post(url + "/api/v1/completion", json=DETERMINISTIC, headers=HEADERS, timeout=5)
    hit = requests.post(url + "/api/v1/completion", json=DETERMINISTIC, headers=HEADERS, timeout=5)
    after = sum(int(redis_client.get(k) or 0) for k in redis_client.keys("LLMGateway:limits*"))
    return hit.headers.get("X-LLMGateway-Cache") == "HIT" and after > before


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["sigstop", "sigkill", "client_pause"])
def test_redis_outage_under_load(tmp_path, pg_url, fake_openai, fault):
    with redis_process(tmp_path) as rds:
        config = base_config(
            pg_url,
            fake_openai.url,
            rate_limits={"enabled": True, "default": "100000/hour"},
            redis={"url": rds.url, "socket_timeout": 0.2},
            api_keys=[
                {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
                {
                    "key": KEY,
                    "owner": "Load",
                    "permissions": ["completion", "embedding"],
                    "tpm_limit": 10_000_000,
                    "budget_usd": 1000.0,
                    "budget_period": "month",
                },
            ],
        )
        with GunicornGateway(tmp_path, config, name="gw", env={"GUNICORN_LOG_LEVEL": "warning"}) as gateway:
            url = gateway.url
            assert requests.post(url + "/api/v1/completion", json=DETERMINISTIC, headers=HEADERS).status_code == 200
            results: list[tuple[float, float, int]] = []
            began = time.monotonic()
            stop_at = began + LOAD_SECONDS
            threads = [threading.Thread(target=run_load, args=(url, stop_at, results)) for _ in range(CONCURRENCY)]
            for thread in threads:
                thread.start()
            time.sleep(FAULT_AT)
            fault_start = time.monotonic()
            admin = rds.client()
            if fault == "sigstop":
                rds.signal(signal.SIGSTOP)
            elif fault == "sigkill":
                rds.signal(signal.SIGKILL)
                rds.process.wait(timeout=5)
            else:
                admin.execute_command("CLIENT", "PAUSE", int(FAULT_SECONDS * 1000), "ALL")
            time.sleep(FAULT_SECONDS / 2)
            ready = requests.get(url + "/health/ready", timeout=5)
            time.sleep(FAULT_SECONDS / 2)
            if fault == "sigstop":
                rds.signal(signal.SIGCONT)
            elif fault == "sigkill":
                rds.start()
            fault_end = time.monotonic()
            for thread in threads:
                thread.join(timeout=30)

            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["redis"] == "down"
            statuses = [status for _, _, status in results]
            assert statuses and all(status == 200 for status in statuses), sorted(set(statuses))
            during = [latency for start, latency, _ in results if fault_start <= start <= fault_end]
            assert len(during) > 10  # the service kept answering while Redis was out
            worst = max(latency for _, latency, _ in results)
            assert worst < 3.0, worst  # a few Redis timeouts of 0.2 s at most, never a hang

            deadline = time.monotonic() + 45
            client = rds.client()
            while not recovered(url, client):
                assert time.monotonic() < deadline, "did not recover from the Redis outage"
                time.sleep(0.5)
            recovery = time.monotonic() - fault_end
            print(
                f"\n{fault}: {len(results)} requests, {len(during)} during the outage, all 200; "
                f"worst latency {worst * 1000:.0f} ms, p50 during {sorted(during)[len(during) // 2] * 1000:.0f} ms; "
                f"recovered {recovery:.1f} s after the fault ended"
            )


def test_starts_and_serves_with_redis_down_from_the_beginning(make_app, fake_openai):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = make_app(redis={"url": url}, rate_limits={"enabled": True, "default": "2/hour"})
    client = app.test_client()
    answers = [
        client.post("/api/v1/completion", json=DETERMINISTIC, headers={"X-API-Key": ADMIN_KEY}) for _ in range(3)
    ]

    # Cache misses, and this worker's in-memory limits still apply.
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers.get("X-LLMGateway-Cache") for a in answers[:2]] == ["MISS", "MISS"]
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json["status"] == "degraded"
