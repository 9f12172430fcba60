"""The routing decision's Redis cost: `least_busy` adds one script call per request, the other strategies none."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import COMPLETION_KEY, auth
from tests.deployments.conftest import pool_config
from tests.redis_commands import commands_of

POOL_CHAT = {"model": "pool", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.mark.parametrize(
    ("strategy", "added"), [("least_busy", ["EVALSHA"]), ("weighted", []), ("latency", []), ("ordered", [])]
)
def test_routing_adds_at_most_one_round_trip(make_app, alpha, beta, redis_url, strategy, added):
    name = f"rt-{uuid.uuid4().hex[:8]}"  # the gateway's connections carry this name; only theirs are counted
    # A long sync interval keeps the write-behind publisher (a background thread) out of the counted window.
    app = make_app(
        **pool_config(
            alpha,
            beta,
            strategy,
            redis={"url": f"{redis_url}?client_name={name}"},
            rate_limits={"enabled": True, "default": "1000/hour"},
            balancing={"sync_interval": 60},
        )
    )
    client = app.test_client()
    for _ in range(2):  # warm: breakers registered, scripts loaded
        assert client.post("/api/v1/completion", json=POOL_CHAT, headers=auth(COMPLETION_KEY)).status_code == 200

    with commands_of(redis_url, name) as commands:
        answer = client.post("/api/v1/completion", json=POOL_CHAT, headers=auth(COMPLETION_KEY))

    assert answer.status_code == 200
    # Rate limit: one EVALSHA; the answering deployment's breaker: one MGET; routing: `added`.
    assert sorted(commands) == sorted(["EVALSHA", "MGET", *added]), commands
