"""R13: a database blip never forgives a budget. When a key's spend for the period cannot be loaded, nothing is
seeded: the request is refused (503, fail closed), and once the database is back the spent budget still bites."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from llmgateway.core.admission import QuotaAsk, budget_period
from llmgateway.infra.quota import MemoryQuotaStore, SpendUnavailable
from tests.conftest import ADMIN_KEY, CHAT, auth
from tests.ledger.helpers import usage_row

BUDGET_KEY = "test-budget-outage-key-0123456789"
BUDGET_KEY_ID = str(uuid.uuid4())
# $0.001 per token: one request reserves at least its 9 estimated prompt tokens ($0.009), more than what is left.
PRICING = {"openai.gpt-4o-mini": {"input_per_million": 1000.0, "output_per_million": 1000.0}}


@pytest.fixture(params=["memory", "redis"])
def quota_sections(request):
    if request.param == "memory":
        return {}
    return {"redis": {"url": request.getfixturevalue("redis_url")}}


def test_a_budget_is_not_forgiven_while_the_ledger_is_down(make_app, own_postgres, quota_sections, fake_openai):
    keys = [
        {"key": ADMIN_KEY, "owner": "Admin Team", "permissions": ["admin"]},
        {
            "id": BUDGET_KEY_ID,
            "key": BUDGET_KEY,
            "owner": "Team B",
            "permissions": ["completion"],
            "budget_usd": 1.0,
            "budget_period": "month",
        },
    ]
    app = make_app(own_postgres.url, api_keys=keys, pricing=PRICING, **quota_sections)
    client = app.test_client()
    svc = app.extensions["llmgateway"]
    svc.ledger.record(usage_row(api_key_id=BUDGET_KEY_ID, cost_usd=0.99995))  # nearly spent, from earlier
    assert svc.ledger.flush(10)
    assert client.get("/api/v1/models", headers=auth(BUDGET_KEY)).status_code == 200  # the key is known

    own_postgres.stop()
    try:
        during = client.post("/api/v1/completion", json=CHAT, headers=auth(BUDGET_KEY))
    finally:
        own_postgres.start()
    after = client.post("/api/v1/completion", json=CHAT, headers=auth(BUDGET_KEY))

    assert during.status_code == 503, during.json
    assert during.json["error"]["code"] == "service_unavailable" and int(during.headers["Retry-After"]) >= 1
    assert after.status_code == 429, after.json
    assert after.json["error"]["code"] == "budget_exceeded"
    assert fake_openai.served == [], "no upstream call was made on a budget that could not be checked"


def test_an_unreadable_spend_seeds_nothing_in_memory():
    calls = []

    def load(key_id: str, since: datetime) -> float:
        calls.append(key_id)
        if len(calls) == 1:
            raise SpendUnavailable()
        return 5.0

    store = MemoryQuotaStore(load)
    now = datetime.now(UTC).timestamp()
    period, start, left = budget_period(now, "day")
    ask = QuotaAsk(
        key_id="k",
        tokens=0,
        tpm_limit=None,
        prev_weight=0.0,
        window=0,
        budget_nano=10**9,
        cost_nano=10**6,
        period=period,
        period_start=start,
        period_seconds_left=left,
    )
    with pytest.raises(SpendUnavailable):
        store.reserve(ask)
    verdict = store.reserve(ask)  # loaded again (nothing was cached), and the real spend applies
    assert len(calls) == 2 and verdict.outcome == "budget_exceeded"
