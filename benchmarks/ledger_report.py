"""Time usage reports over N generated ledger rows in PostgreSQL: `python benchmarks/ledger_report.py URL [N]`."""

from __future__ import annotations

import sys
import time
from datetime import date

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from llmgateway.infra.reports import GROUP_BY, usage_report
from llmgateway.infra.schema import upgrade_schema

FILL = """
INSERT INTO usage_records (request_id, created_at, api_key_id, owner, "user", endpoint, model, provider,
  provider_model, prompt_tokens, completion_tokens, total_tokens, tokens_estimated, cost_usd, saved_cost_usd,
  latency_ms, status_code, cached, streamed)
SELECT md5(i::text)::uuid::text,
       timestamp '2026-01-01' + (i * interval '1 second') * (365 * 86400.0 / :n),
       'key-' || (i % 200), 'team-' || (i % 20), CASE WHEN i % 3 = 0 THEN NULL ELSE 'user-' || (i % 5000) END,
       CASE WHEN i % 4 = 0 THEN 'completion_stream' ELSE 'completion' END,
       'model-' || (i % 12), 'provider-' || (i % 4), 'pm-' || (i % 12),
       i % 500, i % 300, i % 500 + i % 300, i % 17 = 0, (i % 800) / 1e6, 0, 50 + i % 900,
       CASE WHEN i % 50 = 0 THEN 502 ELSE 200 END, i % 10 = 0, i % 4 = 0
FROM generate_series(1, :n) AS i
"""

WINDOWS = {
    "one day": (date(2026, 6, 15), date(2026, 6, 15)),
    "one month": (date(2026, 6, 1), date(2026, 6, 30)),
    "whole year": (date(2026, 1, 1), date(2026, 12, 31)),
}


def main(url: str, n: int) -> None:
    upgrade_schema(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        if connection.execute(text("SELECT count(*) FROM usage_records")).scalar() != n:
            connection.execute(text("TRUNCATE usage_records"))
            started = time.perf_counter()
            connection.execute(text(FILL), {"n": n})
            print(f"filled {n} rows in {time.perf_counter() - started:.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE usage_records"))
    sessions = sessionmaker(bind=engine)
    for name, (start, end) in WINDOWS.items():
        for group in (None, *GROUP_BY):
            usage_report(sessions, start, end, group)  # warm
            runs = []
            for _ in range(3):
                began = time.perf_counter()
                usage_report(sessions, start, end, group)
                runs.append(time.perf_counter() - began)
            print(f"{name:10} groupBy={group or '-':8} best {min(runs) * 1000:7.1f} ms")
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
