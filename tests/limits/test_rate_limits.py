"""Per-key request rate limits: one shared limit across usage routes, headers, overrides, address keys."""

from __future__ import annotations

import random
import time

import pytest

from tests.conftest import ADMIN_KEY, CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth, ledger_rows

EMBED = {"model": "openai.text-embedding-3-small", "input": "hi"}
LIMITED_KEY = "test-limited-key-0123456789abcdefg"


def limited_app(make_app, redis_url, default="3/hour", **sections):
    keys = {
        "api_keys": [
            {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
            {"key": COMPLETION_KEY, "owner": "Team A", "permissions": ["completion", "embedding"]},
            {"key": EMBEDDING_KEY, "owner": "Team B", "permissions": ["embedding"]},
            {"key": LIMITED_KEY, "owner": "Team L", "permissions": ["completion"], "rate_limit": "2/hour"},
        ]
    }
    return make_app(rate_limits={"enabled": True, "default": default}, redis={"url": redis_url}, **{**keys, **sections})


def test_limit_answers_429_in_the_envelope_with_rate_limit_headers(make_app, redis_url, fake_openai):
    app = limited_app(make_app, redis_url)
    client = app.test_client()
    answers = [client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    assert "Retry-After" not in answers[0].headers
    refused = answers[-1]
    assert refused.json["error"]["code"] == "rate_limit_exceeded"
    assert refused.json["error"]["request_id"] == refused.headers["X-LLMGateway-Request-ID"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert int(refused.headers["X-RateLimit-Reset"]) > 0
    assert len(fake_openai.served) == 3
    rows = ledger_rows(app)
    assert len(rows) == 4 and rows[-1]["status_code"] == 429 and rows[-1]["error_code"] == "rate_limit_exceeded"


def test_one_limit_is_shared_by_completion_stream_embedding_and_token_routes(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url, default="4/hour").test_client()
    headers = auth(COMPLETION_KEY)
    statuses = [
        client.post("/api/v1/completion", json=CHAT, headers=headers).status_code,
        client.post("/api/v1/completion/stream", json=CHAT, headers=headers).status_code,
        client.post("/api/v1/embedding", json=EMBED, headers=headers).status_code,
        client.post("/api/v1/auth/token", headers=headers).status_code,
        client.post("/api/v1/embedding", json=EMBED, headers=headers).status_code,
    ]
    assert statuses == [200, 200, 200, 200, 429]
    # Another key has its own budget of requests.
    assert client.post("/api/v1/embedding", json=EMBED, headers=auth(EMBEDDING_KEY)).status_code == 200


def test_a_jwt_counts_as_its_key(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url).test_client()
    token = client.post("/api/v1/auth/token", headers=auth(COMPLETION_KEY)).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/completion", json=CHAT, headers=bearer).status_code == 200
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code == 200
    assert client.post("/api/v1/completion", json=CHAT, headers=bearer).status_code == 429


def test_a_key_override_replaces_the_default(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url, default="10/hour").test_client()
    statuses = [client.post("/api/v1/completion", json=CHAT, headers=auth(LIMITED_KEY)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.post("/api/v1/auth/token", headers=auth(LIMITED_KEY)).status_code == 429


def test_a_key_created_over_rest_with_a_rate_limit_is_limited(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url, default="10/hour").test_client()
    created = client.post(
        "/api/v1/admin/keys",
        headers=auth(ADMIN_KEY),
        json={"owner": "New", "permissions": ["completion"], "rate_limit": "1/hour"},
    )
    assert created.status_code == 201
    key = created.json["key"]
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(key)).status_code == 200
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(key)).status_code == 429


def test_other_routes_are_not_limited(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url, default="1/hour").test_client()
    for _ in range(3):
        assert client.get("/health").status_code == 200
        assert client.get("/health/ready").status_code == 200
        assert client.get("/api/v1/models", headers=auth(COMPLETION_KEY)).status_code == 200
        assert client.get("/api/v1/admin/keys", headers=auth(ADMIN_KEY)).status_code == 200
    assert "X-RateLimit-Limit" not in client.get("/health").headers


def spoofed_headers() -> dict[str, str]:
    fake_ip = ".".join(str(random.randint(1, 254)) for _ in range(4))
    return {"X-Forwarded-For": fake_ip, "Forwarded": f"for={fake_ip}", "X-Real-IP": fake_ip}


def test_forwarded_headers_do_not_dodge_the_per_key_limit(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url).test_client()
    statuses = [
        client.post(
            "/api/v1/completion",
            json=CHAT,
            headers={**auth(COMPLETION_KEY), **spoofed_headers()},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
        ).status_code
        for i in range(9)
    ]
    assert statuses.count(200) == 3


def test_unauthenticated_token_requests_are_limited_per_peer_address(make_app, redis_url, fake_openai):
    client = limited_app(make_app, redis_url).test_client()
    bad = {"api_key": "not-a-valid-key-0123456789"}
    statuses = [
        client.post(
            "/api/v1/auth/token", json=bad, headers=spoofed_headers(), environ_base={"REMOTE_ADDR": "192.0.2.7"}
        ).status_code
        for _ in range(9)
    ]
    assert statuses == [401, 401, 401] + [429] * 6
    other_peer = client.post("/api/v1/auth/token", json=bad, environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert other_peer.status_code == 401


def test_forwarded_for_is_read_only_from_trusted_proxies(make_app, redis_url, fake_openai):
    app = limited_app(make_app, redis_url, default="1/hour", server={"trusted_proxies": ["10.1.0.0/16"]})
    client = app.test_client()
    bad = {"api_key": "not-a-valid-key-0123456789"}

    def attempt(peer: str, forwarded: str | None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.post(
            "/api/v1/auth/token", json=bad, headers=headers, environ_base={"REMOTE_ADDR": peer}
        ).status_code

    # Through the trusted proxy, each real client has its own budget ...
    assert attempt("10.1.2.3", "198.51.100.1") == 401
    assert attempt("10.1.2.3", "198.51.100.2") == 401
    # ... a client cannot pick its identity by prepending hops: the proxy appends the real one.
    assert attempt("10.1.2.3", "203.0.113.9, 198.51.100.1") == 429
    # An untrusted peer's X-Forwarded-For is ignored.
    assert attempt("192.0.2.50", "198.51.100.3") == 401
    assert attempt("192.0.2.50", "198.51.100.4") == 429


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
def test_every_strategy_works_with_the_in_process_store(make_app, fake_openai, strategy):
    client = make_app(rate_limits={"enabled": True, "default": "2/hour", "strategy": strategy}).test_client()
    statuses = [
        client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
def test_every_strategy_counts_down_its_headers_in_redis(make_app, redis_url, fake_openai, strategy):
    client = make_app(
        rate_limits={"enabled": True, "default": "2/hour", "strategy": strategy}, redis={"url": redis_url}
    ).test_client()
    answers = [client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    now = time.time()
    for answer in answers:  # the window resets within the hour, never in the past
        assert now - 5 <= int(answer.headers["X-RateLimit-Reset"]) <= now + 3600 + 5
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 3600
    # Another key's budget is untouched, and its headers say so.
    other = client.post("/api/v1/embedding", json=EMBED, headers=auth(EMBEDDING_KEY))
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "1"


def test_disabled_rate_limits_never_refuse(make_app, redis_url, fake_openai):
    client = make_app(rate_limits={"enabled": False, "default": "1/hour"}).test_client()
    for _ in range(3):
        response = client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY))
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
