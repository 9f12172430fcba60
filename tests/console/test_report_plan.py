"""The usage page's queries on PostgreSQL: each is served by the covering index (an index-only scan, no heap
fetches) and the per-day grouping is hashed into one group per day (the statistics of migration 0005)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import event, text

from llmgateway.api.console.usage import CSV_DIMENSIONS
from llmgateway.infra.reports import usage_breakdowns

pytestmark = pytest.mark.integration

FILL = """
INSERT INTO usage_records (request_id, created_at, api_key_id, owner, "user", endpoint, model, provider,
  prompt_tokens, completion_tokens, total_tokens, tokens_estimated, cost_usd, saved_cost_usd, status_code, cached,
  streamed)
SELECT md5(i::text)::uuid::text, %(start)s::timestamp + (i * interval '1 second') * (365 * 86400.0 / 50000),
       'key-' || (i %% 20), 'team-' || (i %% 5), 'user-' || (i %% 50), 'completion', 'model-' || (i %% 6),
       'provider-' || (i %% 3), i %% 500, i %% 300, i %% 500 + i %% 300, false, (i %% 800) / 1e6, 0,
       CASE WHEN i %% 50 = 0 THEN 502 ELSE 200 END, i %% 10 = 0, false
FROM generate_series(1, 50000) AS i
"""


def test_the_usage_pages_queries_use_the_covering_index(make_app, pg_url):
    app = make_app(pg_url)
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=364), datetime.min.time())
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(FILL, {"start": start})
        connection.execute("VACUUM ANALYZE usage_records")
    svc = app.extensions["llmgateway"]
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "usage_records" in statement:
            statements.append((statement, parameters))

    event.listen(svc.engine, "before_cursor_execute", capture)
    try:
        report = usage_breakdowns(svc.sessions, today - timedelta(days=29), today, CSV_DIMENSIONS)
    finally:
        event.remove(svc.engine, "before_cursor_execute", capture)
    assert report["totals"]["requests"] > 3000 and len(statements) == 1 + len(CSV_DIMENSIONS)

    with svc.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = on"))
        for statement, parameters in statements:
            raw = connection.connection.driver_connection
            plan = raw.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters).fetchone()[0]
            text_plan = json.dumps(plan)
            assert '"Index Name": "ix_usage_report"' in text_plan and "Index Only Scan" in text_plan, statement
            if "CAST(usage_records.created_at AS DATE)" in statement:
                assert '"Strategy": "Hashed"' in text_plan, text_plan  # not a sort of every row
                groups = plan[0]["Plan"]
                while groups.get("Node Type") not in ("Aggregate",) and groups.get("Plans"):
                    groups = groups["Plans"][0]
                assert groups["Plan Rows"] <= 400, groups  # about one group per day, not one per row
