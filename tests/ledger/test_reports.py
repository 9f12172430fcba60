"""Reports: the admin API and the CLI agree, dates are inclusive, every groupBy works, injection gets nowhere."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from llmgateway.infra.ledger import SqlUsageWriter
from llmgateway.infra.models import ApiKey, UsageRecord
from llmgateway.infra.reports import GROUP_BY
from tests.conftest import ADMIN_KEY, auth
from tests.ledger.helpers import usage_row

EDGES = [
    ("before", datetime(2026, 2, 28, 23, 59, 59, 999999)),
    ("first-instant", datetime(2026, 3, 1, 0, 0, 0)),
    ("mid", datetime(2026, 3, 15, 12, 0, 0)),
    ("last-instant", datetime(2026, 3, 31, 23, 59, 59, 999999)),
    ("after", datetime(2026, 4, 1, 0, 0, 0)),
]


def seed(app) -> None:
    rows = []
    for i, (name, when) in enumerate(EDGES):
        rows.append(
            usage_row(
                created_at=when,
                user=name if i % 2 else None,
                owner="Team A",
                model=f"model-{i % 2}",
                provider=f"p{i % 3}",
                api_key_id=f"key-{i % 2}",
                prompt_tokens=10 * (i + 1),
                completion_tokens=i + 1,
                total_tokens=11 * (i + 1),
                cost_usd=0.5 * (i + 1),
                status_code=502 if name == "mid" else 200,
                cached_tokens=2 * i,
                cache_write_tokens=i,
                reasoning_tokens=i % 2,
            )
        )
    rows.append(
        usage_row(
            created_at=datetime(2026, 3, 20),
            cached=True,
            cost_usd=0.0,
            saved_cost_usd=0.25,
            prompt_tokens=7,
            completion_tokens=3,
            total_tokens=10,
            model="model-0",
            provider="p0",
        )
    )
    SqlUsageWriter(app.extensions["llmgateway"].engine).write(rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def report_app(request, make_app):
    db = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    app = make_app(db)
    seed(app)
    return app


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["usage", "report", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("group_by", [None, *GROUP_BY])
def test_admin_api_and_cli_agree_in_json_and_csv(report_app, group_by):
    client = report_app.test_client()
    query = {"startDate": "2026-03-01", "endDate": "2026-03-31", **({"groupBy": group_by} if group_by else {})}
    cli_args = ["--start", "2026-03-01", "--end", "2026-03-31", *(["--group-by", group_by] if group_by else [])]

    api_json = client.get("/api/v1/admin/usage", query_string=query, headers=auth(ADMIN_KEY)).json
    api_csv = client.get("/api/v1/admin/usage", query_string={**query, "format": "csv"}, headers=auth(ADMIN_KEY))

    assert json.loads(cli(report_app, *cli_args, "--format", "json")) == api_json
    assert cli(report_app, *cli_args, "--format", "csv") == api_csv.get_data(as_text=True)
    assert api_csv.mimetype == "text/csv"
    totals = api_json["totals"]
    assert totals["requests"] == 4 and totals["errors"] == 1 and totals["cache_hits"] == 1
    assert totals["prompt_tokens"] == 20 + 30 + 40 + 7 and totals["saved_cost_usd"] == 0.25
    assert totals["cost_usd"] == pytest.approx(1.0 + 1.5 + 2.0)
    # rows 1-3 are in March (i = 1, 2, 3): cached 2i, cache writes i, reasoning i % 2
    assert (totals["cached_tokens"], totals["cache_write_tokens"], totals["reasoning_tokens"]) == (12, 6, 2)
    if group_by:
        assert sum(g["requests"] for g in api_json["groups"]) == 4
        for name in ("cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd"):
            assert sum(g[name] for g in api_json["groups"]) == pytest.approx(totals[name])
        [total_line] = [r for r in csv.reader(io.StringIO(api_csv.get_data(as_text=True))) if r[0] == "TOTAL"]
        assert int(total_line[1]) == 4


def test_group_keys_follow_the_spec(report_app):
    client = report_app.test_client()

    def keys(group_by):
        body = client.get(
            "/api/v1/admin/usage",
            headers=auth(ADMIN_KEY),
            query_string={"startDate": "2026-03-01", "endDate": "2026-03-31", "groupBy": group_by},
        ).json
        return {g["key"]: g["requests"] for g in body["groups"]}

    assert keys("day") == {"2026-03-01": 1, "2026-03-15": 1, "2026-03-20": 1, "2026-03-31": 1}
    assert keys("user") == {"first-instant": 1, "last-instant": 1, "Team A": 2}  # the owner when no user
    assert keys("model") == {"model-0": 2, "model-1": 2}


def test_both_dates_are_inclusive_to_the_last_microsecond(report_app):
    client = report_app.test_client()
    one_day = client.get(
        "/api/v1/admin/usage",
        headers=auth(ADMIN_KEY),
        query_string={"startDate": "2026-03-31", "endDate": "2026-03-31"},
    ).json
    assert one_day["totals"]["requests"] == 1
    assert (
        json.loads(cli(report_app, "--start", "2026-03-01", "--end", "2026-03-01", "--format", "json"))["totals"][
            "requests"
        ]
        == 1
    )


PAYLOADS = [
    "2026-03-01' OR '1'='1",
    "2026-03-01; DROP TABLE usage_records; --",
    "provider; DELETE FROM api_keys",
    "model) UNION SELECT key_hash FROM api_keys --",
    "' OR 1=1 --",
    "\x00",
    "1 OR 1=1",
]


def table_counts(app) -> tuple[int, int]:
    with app.extensions["llmgateway"].sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(UsageRecord)),
            session.scalar(select(func.count()).select_from(ApiKey)),
        )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_injection_in_filters_and_key_lookup_gets_a_4xx_and_changes_nothing(report_app, payload):
    client = report_app.test_client()
    before = table_counts(report_app)
    for param in ("startDate", "endDate", "groupBy", "format"):
        response = client.get("/api/v1/admin/usage", query_string={param: payload}, headers=auth(ADMIN_KEY))
        assert response.status_code == 400, (param, response.status_code)
    assert client.get("/api/v1/models", headers={"X-API-Key": payload}).status_code == 401
    assert client.get("/api/v1/models", headers={"Authorization": f"Bearer {payload}"}).status_code == 401
    assert client.delete(f"/api/v1/admin/keys/{payload}", headers=auth(ADMIN_KEY)).status_code in (404, 405)
    result = report_app.test_cli_runner().invoke(args=["usage", "report", "--start", payload, "--end", "2026-03-31"])
    assert result.exit_code != 0
    assert table_counts(report_app) == before


def test_end_before_start_is_a_400_and_a_cli_error(report_app):
    response = report_app.test_client().get(
        "/api/v1/admin/usage",
        headers=auth(ADMIN_KEY),
        query_string={"startDate": "2026-03-31", "endDate": "2026-03-01"},
    )
    assert response.status_code == 400
    runner = report_app.test_cli_runner()
    result = runner.invoke(args=["usage", "report", "--start", "2026-03-31", "--end", "2026-03-01"])
    assert result.exit_code != 0
