"""The hot path's Redis cost: a limited, breaker-protected completion makes two round trips, no more."""

from __future__ import annotations

import uuid

from tests.conftest import CHAT, COMPLETION_KEY, auth
from tests.redis_commands import commands_of


def test_a_limited_completion_costs_two_redis_round_trips(make_app, redis_url, fake_openai):
    name = f"rt-{uuid.uuid4().hex[:8]}"  # the gateway's connections carry this name; only theirs are counted
    app = make_app(
        rate_limits={"enabled": True, "default": "100/hour"}, redis={"url": f"{redis_url}?client_name={name}"}
    )
    client = app.test_client()
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code == 200  # warm

    with commands_of(redis_url, name) as commands:
        answer = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))

    assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "98"
    # The rate limit's hit also reads the window for the headers (one EVALSHA); the breaker reads its state
    # and failure count together (one MGET) and, with no failures to forget, writes nothing.
    assert sorted(commands) == ["EVALSHA", "MGET"], commands
