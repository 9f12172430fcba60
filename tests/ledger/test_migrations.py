"""Migrations: one head; upgrade on an empty PostgreSQL and SQLite yields exactly the models' schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from llmgateway.infra.models import Base
from llmgateway.infra.schema import heads, upgrade_schema


def test_there_is_a_single_head():
    assert heads() == ["0006"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'empty.db'}"


def test_upgrade_on_an_empty_database_matches_the_models(empty_db):
    upgrade_schema(empty_db)
    upgrade_schema(empty_db)  # a no-op when current
    engine = create_engine(empty_db)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        indexes = {i["name"] for i in inspect(engine).get_indexes("usage_records")}
    finally:
        engine.dispose()
    assert diff == []
    assert {"ix_usage_report", "ix_usage_key_created"} <= indexes


def test_token_detail_migration_keeps_existing_records(empty_db):
    """0005 -> 0006 on a ledger that holds rows: the rows keep every value and read 0 for the new counts."""
    upgrade_schema(empty_db, "0005")
    engine = create_engine(empty_db)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO usage_records (request_id, created_at, endpoint, prompt_tokens, completion_tokens, "
                    "total_tokens, tokens_estimated, cost_usd, saved_cost_usd, status_code, cached, streamed) "
                    "VALUES ('old-1', '2026-03-01 10:00:00', 'completion', 120, 30, 150, false, 0.25, 0, 200, "
                    "false, false)"
                )
            )
        upgrade_schema(empty_db)
        with engine.begin() as connection:
            row = connection.execute(text("SELECT * FROM usage_records WHERE request_id = 'old-1'")).mappings().one()
            # an instance still on the old code inserts without the new columns during a rolling upgrade
            connection.execute(
                text(
                    "INSERT INTO usage_records (request_id, created_at, endpoint, prompt_tokens, completion_tokens, "
                    "total_tokens, tokens_estimated, cost_usd, saved_cost_usd, status_code, cached, streamed) "
                    "VALUES ('old-2', '2026-03-01 10:00:01', 'completion', 1, 1, 2, false, 0, 0, 200, false, false)"
                )
            )
            later = connection.execute(text("SELECT cached_tokens FROM usage_records WHERE request_id = 'old-2'"))
            assert later.scalar_one() == 0
    finally:
        engine.dispose()
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (120, 30, 150)
    assert row["cost_usd"] == 0.25
    assert (row["cached_tokens"], row["cache_write_tokens"], row["reasoning_tokens"]) == (0, 0, 0)
