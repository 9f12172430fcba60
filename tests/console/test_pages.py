"""The console's pages through Flask's test client: the usage page equals the API's report, CSV export, keys, health."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from llmgateway.api.console.usage import CHART_METRICS
from tests.conftest import ADMIN_KEY, CHAT, auth
from tests.console.helpers import csrf_from, seed_usage, sign_in


def chart_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)
    assert found, "the usage page has no chart data"
    return json.loads(found.group(1))


def api_report(client, start: str, end: str, group_by: str | None = None) -> dict:
    query = f"startDate={start}&endDate={end}" + (f"&groupBy={group_by}" if group_by else "")
    response = client.get(f"/api/v1/admin/usage?{query}", headers=auth(ADMIN_KEY))
    assert response.status_code == 200
    return response.json


def test_usage_page_shows_the_api_report_for_the_last_30_days(app, client):
    seed_usage(app)
    sign_in(client)
    page = client.get("/admin/usage")
    assert page.status_code == 200
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=29)).isoformat(), today.isoformat()
    data = chart_data(page.text)

    by_day = api_report(client, start, end, "day")
    assert by_day["totals"]["requests"] == 7  # the record from 40 days ago is outside the range
    assert data["days"]["labels"][0] == start and data["days"]["labels"][-1] == end
    assert len(data["days"]["labels"]) == 30
    api_days = {group["key"]: group for group in by_day["groups"]}
    for metric in CHART_METRICS:
        expected = [api_days.get(day, {}).get(metric, 0) for day in data["days"]["labels"]]
        assert data["days"]["series"][metric] == expected, metric
    for name in by_day["totals"]:
        assert f'data-figure="{name}"' in page.text
    assert 'data-figure="requests">7<' in page.text
    assert 'data-figure="total_tokens">17,085<' in page.text

    for dimension in ("model", "provider", "user"):
        groups = api_report(client, start, end, dimension)["groups"]
        chart = data["breakdowns"][dimension]
        assert sorted(zip(chart["labels"], chart["series"]["cost_usd"], strict=True)) == sorted(
            (str(g["key"]) if g["key"] is not None else "(none)", g["cost_usd"]) for g in groups
        )
        assert sorted(chart["series"]["requests"]) == sorted(g["requests"] for g in groups)
    key_groups = api_report(client, start, end, "api_key")["groups"]
    assert sorted(data["breakdowns"]["api_key"]["series"]["requests"]) == sorted(g["requests"] for g in key_groups)


def test_changing_the_date_range_reports_that_range(app, client):
    seed_usage(app)
    sign_in(client)
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=3)).isoformat(), (today - timedelta(days=1)).isoformat()
    data = chart_data(client.get(f"/admin/usage?start={start}&end={end}").text)
    expected = api_report(client, start, end, "day")
    assert data["days"]["labels"] == [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    assert sum(data["days"]["series"]["requests"]) == expected["totals"]["requests"] == 3
    assert sum(data["days"]["series"]["cost_usd"]) == pytest.approx(expected["totals"]["cost_usd"])


@pytest.mark.parametrize("dimension", ["day", "model", "provider", "api_key", "user"])
def test_csv_export_is_the_api_csv(app, client, dimension):
    seed_usage(app)
    sign_in(client)
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=29)).isoformat(), today.isoformat()
    exported = client.get(f"/admin/usage.csv?start={start}&end={end}&by={dimension}")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    assert f'filename="usage-{dimension}-{start}-{end}.csv"' in exported.headers["Content-Disposition"]
    api_csv = client.get(
        f"/api/v1/admin/usage?startDate={start}&endDate={end}&groupBy={dimension}&format=csv", headers=auth(ADMIN_KEY)
    )
    assert exported.text == api_csv.text
    assert exported.text.splitlines()[-1].startswith("TOTAL,7,")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-01", "YYYY-MM-DD"),
        ("start=2026-05-02&end=2026-05-01", "must not be before"),
        ("start=2020-01-01&end=2026-01-01", "at most 366 days"),
    ],
)
def test_a_bad_range_is_a_400_page_that_keeps_the_form(client, query, message):
    sign_in(client)
    page = client.get(f"/admin/usage?{query}")
    assert page.status_code == 400
    assert message in page.text and 'id="range-form"' in page.text
    assert client.get(f"/admin/usage.csv?{query}").status_code == 400
    assert client.get("/admin/usage.csv?by=nonsense").status_code == 400


def test_the_usage_page_shows_the_token_detail_totals(app, client):
    """The usage issue's cached, cache-write and reasoning tokens, as the API reports them."""
    seed_usage(app)
    sign_in(client)
    page = client.get("/admin/usage").text
    for label in ("Cached prompt tokens", "Cache-write tokens", "Reasoning tokens"):
        assert label in page
    totals = client.get("/api/v1/admin/usage", headers=auth(ADMIN_KEY)).json["totals"]
    for name in ("cached_tokens", "cache_write_tokens", "reasoning_tokens"):
        assert f'data-figure="{name}">' in page and name in totals


def test_the_usage_page_shows_figures_the_report_gains(app, client, monkeypatch):
    """New report columns (the usage issue adds token details) appear on the page without a template change."""
    from llmgateway.api.console import usage as usage_page

    original = usage_page.usage_breakdowns

    def with_extra(*args, **kwargs):
        report = original(*args, **kwargs)
        report["totals"]["future_tokens"] = 1234
        return report

    monkeypatch.setattr(usage_page, "usage_breakdowns", with_extra)
    sign_in(client)
    page = client.get("/admin/usage").text
    assert "Future tokens" in page and 'data-figure="future_tokens">1,234<' in page


def test_create_a_key_use_it_revoke_it(app, client, fake_openai):
    csrf = sign_in(client)
    created = client.post(
        "/admin/keys",
        data={
            "csrf_token": csrf,
            "owner": "Team Console",
            "permissions": ["completion"],
            "rate_limit": "100/minute",
            "budget_usd": "5",
            "budget_period": "month",
        },
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    key = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', created.text).group(1)
    assert 'id="copy-key"' in created.text

    answer = client.post(
        "/v1/chat/completions", json={**CHAT, "model": "gpt-4o-mini"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.json
    listing = client.get("/admin/keys").text
    row = re.search(
        r'<tr data-key-id="([^"]+)">\s*<th scope="row" class="owner">Team Console</th>(.*?)</tr>', listing, re.S
    )
    assert row and "100/minute" in row.group(2) and "5.00 / month" in row.group(2) and "live" in row.group(2)
    assert key not in listing  # shown once, never again
    key_id = row.group(1)
    api_keys = client.get("/api/v1/admin/keys", headers=auth(ADMIN_KEY)).json["data"]
    assert next(k for k in api_keys if k["id"] == key_id)["source"] == "console"

    confirm = client.get(f"/admin/keys/{key_id}/revoke")
    assert confirm.status_code == 200 and "Team Console" in confirm.text
    revoked = client.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": csrf_from(confirm.text)})
    assert revoked.status_code == 303
    refused = client.post(
        "/v1/chat/completions", json={**CHAT, "model": "gpt-4o-mini"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 401
    assert client.get(f"/admin/keys/{key_id}/revoke").status_code == 404
    assert client.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": csrf}).status_code == 404


def test_keys_page_shows_last_use_and_spend_this_period(app, client, fake_openai):
    sign_in(client)
    for _ in range(2):
        assert client.post("/api/v1/completion", json=CHAT, headers=auth(ADMIN_KEY)).status_code == 200
    svc = app.extensions["llmgateway"]
    assert svc.ledger.flush(10)
    admin = next(row for row in svc.keystore.list() if row.owner == "Admin Team")
    from llmgateway.infra.key_activity import key_activity

    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    activity = key_activity(svc.sessions, month_start, month_start)[admin.id]
    assert activity.last_used is not None and activity.period_spend_usd > 0
    listing = client.get("/admin/keys").text
    row = re.search(rf'<tr data-key-id="{admin.id}">(.*?)</tr>', listing, re.S).group(1)
    assert f'{activity.period_spend_usd:.4f}<br><span class="hint">this month</span>' in row
    assert activity.last_used.strftime("%Y-%m-%d %H:%M") in row


def test_create_key_errors_are_shown_with_the_form_kept(client):
    csrf = sign_in(client)
    page = client.post(
        "/admin/keys",
        data={
            "csrf_token": csrf,
            "owner": "Team X",
            "permissions": ["completion"],
            "rate_limit": "lots",
            "budget_usd": "3",
        },
    )
    assert page.status_code == 400
    assert 'id="create-errors"' in page.text and "rate_limit" in page.text and "budget_period" in page.text
    assert 'value="Team X"' in page.text
    assert "Team X" not in client.get("/api/v1/admin/keys", headers=auth(ADMIN_KEY)).text


def test_health_page_shows_an_open_breaker_with_when_it_opened(make_app, fake_openai):
    app = make_app(circuit_breaker={"fail_max": 2, "reset_timeout": 30}, retries={"max_attempts": 1})
    client = app.test_client()
    for _ in range(2):
        fake_openai.push("status", status=503)
        client.post("/api/v1/completion", json=CHAT, headers=auth(ADMIN_KEY))
    sign_in(client)
    page = client.get("/admin/health").text
    api = client.get("/api/v1/admin/breakers", headers=auth(ADMIN_KEY)).json["data"]
    assert api and api[0]["state"] == "open"
    assert api[0]["name"] in page and "Open (failing fast)" in page
    assert api[0]["opened_at"] in page


def test_index_redirects_to_usage_and_static_assets_are_served(client):
    sign_in(client)
    assert client.get("/admin/").headers["Location"].endswith("/admin/usage")
    with client.get("/admin/static/vendor/chartjs/chart.umd.min.js") as chart:
        assert chart.status_code == 200 and b"Chart.js v4.5.1" in chart.data[:200]
    with client.get("/admin/static/vendor/chartjs/LICENSE.md") as licence:
        assert licence.status_code == 200 and b"MIT" in licence.data
    assert client.get("/admin/static/../views.py").status_code == 404
