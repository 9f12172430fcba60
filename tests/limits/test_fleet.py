"""R10 / S8: two gunicorn instances (2 gevent workers each) on one Redis hold limits exactly, spoofing or not."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import ADMIN_KEY, CHAT, base_config
from tests.gunicorn_runner import GunicornGateway

pytestmark = pytest.mark.slow

FLEET_KEY = "test-fleet-key-0123456789abcdefghij"
TPM_KEY = "test-fleet-tpm-key-0123456789abcdef"
LIMIT = 20
TPM_LIMIT = 400
TOKENS_PER_CALL = 9 + 60  # the prompt estimate plus max_tokens


def spoofed() -> dict[str, str]:
    ip = ".".join(str(random.randint(1, 254)) for _ in range(4))
    return {"X-Forwarded-For": ip, "Forwarded": f"for={ip}", "X-Real-IP": ip}


def fire(urls: list[str], count: int, path: str, body: dict, headers: dict) -> list[int]:
    """`count` requests at once, spread over the instances, each with random forwarded headers."""

    def send(i: int) -> int:
        return requests.post(
            urls[i % len(urls)] + path, json=body, headers={**headers, **spoofed()}, timeout=30
        ).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def test_two_instances_share_limits_exactly(tmp_path, pg_url, redis_url, fake_openai):
    config = base_config(
        pg_url,
        fake_openai.url,
        rate_limits={"enabled": True, "default": f"{LIMIT}/hour"},
        redis={"url": redis_url},
        cache={"enabled": False},
        api_keys=[
            {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
            {"key": FLEET_KEY, "owner": "Fleet", "permissions": ["completion"]},
            {
                "key": TPM_KEY,
                "owner": "Tpm",
                "permissions": ["completion"],
                "tpm_limit": TPM_LIMIT,
                "rate_limit": "1000/hour",
            },
        ],
    )
    quiet = {"GUNICORN_LOG_LEVEL": "warning"}
    with (
        GunicornGateway(tmp_path, config, name="a", env=quiet) as first,
        GunicornGateway(tmp_path, config, name="b", env=quiet) as second,
    ):
        urls = [first.url, second.url]

        # R10 + S8: 3x the per-key limit in parallel, with random forwarded headers → exactly the limit.
        statuses = fire(urls, 3 * LIMIT, "/api/v1/completion", CHAT, {"X-API-Key": FLEET_KEY})
        accepted = statuses.count(200)
        assert accepted == LIMIT, statuses
        assert statuses.count(429) == 2 * LIMIT

        # Unauthenticated token exchanges are limited per peer address; forwarded headers do not help.
        statuses = fire(urls, 3 * LIMIT, "/api/v1/auth/token", {"api_key": "not-a-valid-key-0123456789"}, {})
        assert statuses.count(401) == LIMIT and statuses.count(429) == 2 * LIMIT, statuses

        # Token reservations across instances never exceed the TPM limit while the calls overlap.
        for _ in range(18):
            fake_openai.push("delay", seconds=1.5)
        statuses = fire(urls, 18, "/api/v1/completion", {**CHAT, "max_tokens": 60}, {"X-API-Key": TPM_KEY})
        assert statuses.count(200) == TPM_LIMIT // TOKENS_PER_CALL, statuses
        print(
            f"\nfleet: {accepted} of {3 * LIMIT} accepted for a limit of {LIMIT}; "
            f"TPM: {statuses.count(200)} of 18 admitted x {TOKENS_PER_CALL} tokens ≤ {TPM_LIMIT}"
        )
