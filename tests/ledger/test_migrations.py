"""Migrations: one head; upgrade on an empty PostgreSQL and SQLite yields exactly the models' schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from llmgateway.infra.models import Base
from llmgateway.infra.schema import heads, upgrade_schema


def test_there_is_a_single_head():
    assert heads() == ["0005"]


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
