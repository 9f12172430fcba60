"""R14 under gunicorn on real Redis: kill -9 a worker mid-load; its in-flight counts expire instead of leaking."""

from __future__ import annotations

import os
import signal
import threading
import time

import redis
import requests

from tests.conftest import ADMIN_KEY, COMPLETION_KEY, base_config
from tests.deployments.conftest import pool_config
from tests.gunicorn_runner import GunicornGateway

ENTRY_TTL = 2.0


def in_flight(gateway: GunicornGateway) -> int:
    answer = requests.get(f"{gateway.url}/api/v1/admin/deployments", headers={"X-API-Key": ADMIN_KEY}, timeout=5)
    answer.raise_for_status()
    return sum(row["in_flight"] for row in answer.json()["data"])


def counts_by_worker(redis_url: str) -> dict[int, int]:
    """In-flight counts per worker pid, as the workers published them (fields are host:pid:id)."""
    client = redis.Redis.from_url(redis_url)
    try:
        counts: dict[int, int] = {}
        for key in client.keys("*dep:load:*"):
            for field, value in client.hgetall(key).items():
                pid = int(field.decode().split(":")[1])
                counts[pid] = counts.get(pid, 0) + int(value.split()[0])
        return counts
    finally:
        client.close()


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_killed_workers_in_flight_counts_expire(tmp_path, alpha, beta, redis_url):
    config = base_config(
        f"sqlite:///{tmp_path}/gw.db",
        None,
        **pool_config(
            alpha,
            beta,
            "least_busy",
            redis={"url": redis_url},
            balancing={"entry_ttl": ENTRY_TTL, "sync_interval": 0.1},
        ),
    )
    for fake in (alpha, beta):
        for _ in range(40):
            fake.push("delay", seconds=3.0)
    outcomes: list[int | str] = []

    def ask() -> None:
        try:
            answer = requests.post(
                f"{gateway.url}/api/v1/completion",
                headers={"X-API-Key": COMPLETION_KEY},
                json={"model": "pool", "messages": [{"role": "user", "content": "hi"}]},
                timeout=15,
            )
            outcomes.append(answer.status_code)
        except requests.RequestException as exc:  # the killed worker's clients lose their connection
            outcomes.append(type(exc).__name__)

    with GunicornGateway(tmp_path, config, workers=2) as gateway:
        load = [threading.Thread(target=ask) for _ in range(16)]
        for thread in load:
            thread.start()
        assert wait_for(lambda: in_flight(gateway) == 16, 5.0), in_flight(gateway)
        per_worker = counts_by_worker(redis_url)
        victim = max(per_worker, key=per_worker.get)  # the worker holding the most requests
        assert per_worker[victim] > 0 and victim in gateway.workers()
        os.kill(victim, signal.SIGKILL)
        for thread in load:
            thread.join(20)
        survivors_done = time.monotonic()
        # The survivors' requests ended and took their counts back; the victim's are only forgotten once they
        # expire, ENTRY_TTL after its last heartbeat.
        assert wait_for(lambda: in_flight(gateway) == 0, ENTRY_TTL + 3.0), in_flight(gateway)
        waited = time.monotonic() - survivors_done
        lost = [o for o in outcomes if o != 200]
        assert len(outcomes) == 16 and len(lost) == per_worker[victim] and set(lost) == {"ConnectionError"}
        assert victim not in gateway.workers()
        after = requests.post(
            f"{gateway.url}/api/v1/completion",
            headers={"X-API-Key": COMPLETION_KEY},
            json={"model": "pool", "messages": [{"role": "user", "content": "hi"}]},
            timeout=15,
        )
        assert after.status_code == 200
    print(
        f"\n[R14 kill -9] the victim held {per_worker[victim]} of 16 requests; {outcomes.count(200)} answered; "
        f"counts at 0 {waited:.1f}s after the other requests ended"
    )
