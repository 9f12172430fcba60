"""Tokens-per-minute and spend budgets: atomic reservations, settlement to real usage, no overshoot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import redis

from llmgateway.config import RedisConfig
from llmgateway.core.admission import ADMITTED, TPM_EXCEEDED, QuotaAsk, budget_period
from llmgateway.infra.quota import MemoryQuotaStore, RedisQuotaStore
from llmgateway.infra.redis_client import RedisConnector
from tests.conftest import ADMIN_KEY, CHAT, auth, ledger_rows

TPM_KEY = "test-tpm-limited-key-0123456789abc"
BUDGET_KEY = "test-budget-limited-key-0123456789"
# $0.001 per token in and out: the fake answers "hello there" with 2 prompt + 5 completion tokens ($0.007),
# and the gateway reserves its estimate of the prompt (9 tokens, $0.009) plus max_tokens.
PRICING = {"openai.gpt-4o-mini": {"input_per_million": 1000.0, "output_per_million": 1000.0}}


@pytest.fixture(params=["redis", "memory"])
def store_sections(request, redis_url):
    return {"redis": {"url": redis_url}} if request.param == "redis" else {}


def quota_app(make_app, sections, **key_fields):
    keys = [
        {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
        {"key": TPM_KEY, "owner": "Team T", "permissions": ["completion"], **key_fields},
    ]
    return make_app(api_keys=keys, pricing=PRICING, **sections)


def post_all(app, bodies, key=TPM_KEY):
    def send(body):
        return app.test_client().post("/api/v1/completion", json=body, headers=auth(key))

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_concurrent_reservations_never_exceed_the_tpm_limit(make_app, store_sections, fake_openai):
    app = quota_app(make_app, store_sections, tpm_limit=300)
    for _ in range(12):
        fake_openai.push("delay", seconds=1.0)  # every admitted call is still running when the last one arrives
    answers = post_all(app, [{**CHAT, "max_tokens": 50}] * 12)  # 9 + 50 = 59 tokens reserved each

    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 300 // 59 == 5
    refused = [a for a in answers if a.status_code == 429]
    assert all(a.json["error"]["code"] == "rate_limit_exceeded" for a in refused)
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in refused)
    assert refused[0].headers["X-RateLimit-Limit-Tokens"] == "300"
    assert len(fake_openai.served) == 5


def test_reservations_settle_to_the_real_usage(make_app, redis_url, fake_openai):
    app = quota_app(make_app, {"redis": {"url": redis_url}}, tpm_limit=110)
    # 9 + 80 = 89 tokens reserved; once settled only the 7 used tokens count, so the next calls fit
    # (two unsettled reservations would already need 178).
    for _ in range(3):
        answer = app.test_client().post("/api/v1/completion", json={**CHAT, "max_tokens": 80}, headers=auth(TPM_KEY))
        assert answer.status_code == 200, answer.json
    raw = redis.Redis.from_url(redis_url)
    counters = [int(raw.get(k)) for k in raw.keys("LLMGateway:quota:tpm:*")]
    assert sum(counters) == 3 * 7


def test_a_failed_call_gives_its_reservation_back(make_app, redis_url, fake_openai):
    app = quota_app(make_app, {"redis": {"url": redis_url}}, tpm_limit=100)
    fake_openai.push(
        "status",
        status=400,
        body={"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}},
    )
    client = app.test_client()
    assert client.post("/api/v1/completion", json={**CHAT, "max_tokens": 80}, headers=auth(TPM_KEY)).status_code == 400
    assert client.post("/api/v1/completion", json={**CHAT, "max_tokens": 80}, headers=auth(TPM_KEY)).status_code == 200


def test_budget_exceeded_is_a_429_and_spend_stays_within_it(make_app, store_sections, fake_openai):
    app = quota_app(make_app, store_sections, budget_usd=0.02, budget_period="day")
    client = app.test_client()
    statuses = [client.post("/api/v1/completion", json=CHAT, headers=auth(TPM_KEY)) for _ in range(4)]

    assert [s.status_code for s in statuses] == [200, 200, 429, 429]
    refused = statuses[2]
    assert refused.json["error"]["code"] == "budget_exceeded"
    assert "daily budget" in refused.json["error"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400
    rows = ledger_rows(app)
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(0.014)
    assert [r["error_code"] for r in rows] == [None, None, "budget_exceeded", "budget_exceeded"]


def test_concurrent_calls_cannot_overshoot_the_budget(make_app, store_sections, fake_openai):
    app = quota_app(make_app, store_sections, budget_usd=0.05, budget_period="month")
    for _ in range(10):
        fake_openai.push("delay", seconds=1.0)
    answers = post_all(app, [CHAT] * 10)

    assert sorted(a.status_code for a in answers).count(200) == 5  # 5 x $0.009 reserved ≤ $0.05 < 6 x $0.009
    assert {a.json["error"]["code"] for a in answers if a.status_code == 429} == {"budget_exceeded"}
    assert sum(r["cost_usd"] for r in ledger_rows(app)) <= 0.05


def test_cached_answers_cost_nothing_and_pass_an_exhausted_budget(make_app, store_sections, fake_openai):
    app = quota_app(make_app, store_sections, budget_usd=0.01, budget_period="month")
    client = app.test_client()
    body = {**CHAT, "temperature": 0}
    assert client.post("/api/v1/completion", json=body, headers=auth(TPM_KEY)).status_code == 200
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(TPM_KEY)).status_code == 429
    hit = client.post("/api/v1/completion", json=body, headers=auth(TPM_KEY))
    assert hit.status_code == 200 and hit.json["cached"] is True
    assert [r["cost_usd"] for r in ledger_rows(app)] == [pytest.approx(0.007), 0.0, 0.0]


def test_spend_already_in_the_ledger_counts_when_redis_lost_the_counter(make_app, redis_url, fake_openai):
    app = quota_app(make_app, {"redis": {"url": redis_url}}, budget_usd=0.02, budget_period="month")
    client = app.test_client()
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(TPM_KEY)).status_code == 200
    assert client.post("/api/v1/completion", json=CHAT, headers=auth(TPM_KEY)).status_code == 200
    ledger_rows(app)  # the records reached the database
    redis.Redis.from_url(redis_url).flushdb()  # Redis restarted empty

    refused = client.post("/api/v1/completion", json=CHAT, headers=auth(TPM_KEY))
    assert refused.status_code == 429 and refused.json["error"]["code"] == "budget_exceeded"


def ask(tokens: int, limit: int) -> QuotaAsk:
    period, start, left = budget_period(1_700_000_000.0, "month")
    return QuotaAsk(
        key_id="k1",
        tokens=tokens,
        tpm_limit=limit,
        window=28_333_333,
        prev_weight=0.5,
        budget_nano=None,
        cost_nano=0,
        period=period,
        period_start=start,
        period_seconds_left=left,
    )


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_store_admits_exactly_the_limit_under_contention(backend, redis_url):
    if backend == "redis":
        connector = RedisConnector(RedisConfig(url=redis_url, socket_timeout=2.0, max_connections=20))
        store = RedisQuotaStore(connector, lambda key, since: 0.0)
    else:
        store = MemoryQuotaStore(lambda key, since: 0.0)
    barrier = threading.Barrier(40)

    def reserve(_: int) -> str:
        barrier.wait()
        return store.reserve(ask(7, 100)).outcome

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(reserve, range(40)))
    assert outcomes.count(ADMITTED) == 14 and outcomes.count(TPM_EXCEEDED) == 26


def test_budget_periods_are_utc_days_and_months():
    moment = datetime(2025, 2, 28, 23, 0, tzinfo=UTC).timestamp()
    assert budget_period(moment, "day")[0] == "d20250228"
    assert budget_period(moment, "day")[2] == pytest.approx(3600)
    period, start, left = budget_period(moment, "month")
    assert (period, start) == ("m202502", datetime(2025, 2, 1))
    assert left == pytest.approx(3600)


def test_fleet_budget_settles_the_exact_cost_of_cached_and_reasoning_tokens(make_app, redis_url, fake_openai):
    """The spend counter every instance reads holds each call's exact cost: cached input at its own price."""
    from tests.fakes.server import UsageDetail

    pricing = {
        "openai.gpt-4o-mini": {
            "input_per_million": 1000.0,
            "output_per_million": 2000.0,
            "cached_input_per_million": 100.0,
        }
    }
    keys = [
        {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
        {"key": TPM_KEY, "owner": "Team T", "permissions": ["completion"], "budget_usd": 1.0, "budget_period": "month"},
    ]
    app = make_app(api_keys=keys, pricing=pricing, redis={"url": redis_url})
    fake_openai.detail = UsageDetail(cached=6, reasoning=2)
    body = {**CHAT, "messages": [{"role": "user", "content": "one two three four five six seven eight nine ten"}]}
    for _ in range(2):
        assert app.test_client().post("/api/v1/completion", json=body, headers=auth(TPM_KEY)).status_code == 200

    served = fake_openai.served
    assert [(s.prompt_tokens, s.cached_tokens, s.reasoning_tokens) for s in served] == [(10, 6, 2)] * 2
    exact = (
        sum(
            (s.prompt_tokens - s.cached_tokens) * 1000.0 + s.cached_tokens * 100.0 + s.completion_tokens * 2000.0
            for s in served
        )
        / 1e6
    )
    raw = redis.Redis.from_url(redis_url)
    [spend_key] = raw.keys("LLMGateway:quota:spend:*")
    assert int(raw.get(spend_key)) == round(exact * 1e9)
    assert sum(r["cost_usd"] for r in ledger_rows(app)) == pytest.approx(exact)
