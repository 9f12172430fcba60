"""Time the console's usage page over N generated ledger rows on PostgreSQL, and show the plans of its queries.

    python benchmarks/console_usage_page.py [ROWS] [SPREAD_DAYS]

Creates (and drops) its own database on the test server (LLMGATEWAY_TEST_PG_HOST/PORT, 127.0.0.1:5432), fills
`usage_records` with ROWS rows spread evenly over the SPREAD_DAYS days before today (generate_series, one INSERT),
then renders GET /admin/usage for the last 30 days through the app (signed in as an admin) and prints the best
and median of five runs, and EXPLAIN (ANALYZE) of the report's per-day query. SPREAD_DAYS=30 puts every row in the
window (the report reads them all); SPREAD_DAYS=90 leaves two thirds outside it (the covering index serves it).
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import Date, cast, func, select, text

from llmgateway import create_app
from llmgateway.infra.models import UsageRecord
from llmgateway.infra.reports import usage_breakdowns

HOST = os.environ.get("LLMGATEWAY_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("LLMGATEWAY_TEST_PG_PORT", "5432"))
ADMIN_KEY = "benchmark-admin-key-0123456789abcdef"

FILL = """
INSERT INTO usage_records (request_id, created_at, api_key_id, owner, "user", endpoint, model, provider,
  provider_model, prompt_tokens, completion_tokens, total_tokens, tokens_estimated, cost_usd, saved_cost_usd,
  latency_ms, status_code, cached, streamed)
SELECT md5(i::text)::uuid::text,
       %(start)s::timestamp + (i * interval '1 second') * (%(days)s * 86400.0 / %(n)s),
       'key-' || (i %% 200), 'team-' || (i %% 20), CASE WHEN i %% 3 = 0 THEN NULL ELSE 'user-' || (i %% 5000) END,
       'completion', 'model-' || (i %% 12), 'provider-' || (i %% 4), 'pm-' || (i %% 12),
       i %% 500, i %% 300, i %% 500 + i %% 300, false, (i %% 800) / 1e6, CASE WHEN i %% 10 = 0 THEN 0.0002 ELSE 0 END,
       50 + i %% 900, CASE WHEN i %% 50 = 0 THEN 502 ELSE 200 END, i %% 10 = 0, i %% 4 = 0
FROM generate_series(1, %(n)s) AS i
"""


def fill(url: str, rows: int, spread_days: int) -> None:
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=spread_days - 1), datetime.min.time())
    with psycopg.connect(url, autocommit=True) as connection:
        began = time.perf_counter()
        connection.execute(FILL, {"start": start, "days": spread_days, "n": rows})
        connection.execute("VACUUM ANALYZE usage_records")
        print(f"filled {rows:,} rows over {spread_days} days in {time.perf_counter() - began:.1f} s")


def sign_in(client) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/sign-in").text).group(1)
    assert client.post("/admin/sign-in", data={"csrf_token": token, "api_key": ADMIN_KEY}).status_code == 303


def explain_day_query(app) -> None:  # type: ignore[no-untyped-def]
    """The plan of the report's per-day query (the costliest of the page's six) for the page's window."""
    today = datetime.now(UTC).date()
    lower = datetime.combine(today - timedelta(days=29), datetime.min.time())
    day = cast(UsageRecord.created_at, Date).label("key")
    query = (
        select(day, func.count(), func.sum(UsageRecord.total_tokens), func.sum(UsageRecord.cost_usd))
        .where(UsageRecord.created_at >= lower)
        .group_by(day)
        .order_by(day)
    )
    with app.extensions["llmgateway"].sessions() as session:
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        for (line,) in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")):
            print("   ", line)


def main(rows: int, spread_days: int) -> None:
    name = f"llmgw_console_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(f"postgresql://postgres@{HOST}:{PORT}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{HOST}:{PORT}/{name}"
    app = None
    try:
        app = create_app(
            {
                "database": {"url": url},
                "secret_key": "b" * 40,
                "jwt": {"secret": "j" * 40},
                "ledger": {"spool_dir": tempfile.mkdtemp(prefix="console-bench-spool-")},
                "logging": {"level": "WARNING"},
                "rate_limits": {"enabled": False},
                "api_keys": [{"key": ADMIN_KEY, "owner": "Bench", "permissions": ["admin"]}],
            }
        )
        fill(f"postgresql://postgres@{HOST}:{PORT}/{name}", rows, spread_days)
        client = app.test_client()
        sign_in(client)
        runs = []
        for _ in range(6):
            began = time.perf_counter()
            response = client.get("/admin/usage")
            runs.append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
        runs = runs[1:]  # the first run warms the buffer cache
        print(
            f"GET /admin/usage (30 days, {rows:,} rows over {spread_days} days): best {min(runs) * 1000:.0f} ms, "
            f"median {statistics.median(runs) * 1000:.0f} ms, {len(response.data):,} bytes"
        )
        today = datetime.now(UTC).date()
        sessions = app.extensions["llmgateway"].sessions
        queries = []
        for _ in range(3):
            began = time.perf_counter()
            usage_breakdowns(
                sessions, today - timedelta(days=29), today, ("day", "model", "provider", "api_key", "user")
            )
            queries.append(time.perf_counter() - began)
        print(f"  of which the report's six queries (usage_breakdowns): best {min(queries) * 1000:.0f} ms")
        explain_day_query(app)
    finally:
        if app is not None:
            app.extensions["llmgateway"].close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 30)
