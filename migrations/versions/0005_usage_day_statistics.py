"""usage records: planner statistics on the report's day expression (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 01:05:00.000000

Without them PostgreSQL guesses one group per row for `GROUP BY CAST(created_at AS DATE)` and sorts the whole
window (an on-disk sort over 1,000,000 rows); with them it hashes into one group per day. Nothing to do on
SQLite, or on PostgreSQL before 14 (no statistics on expressions).
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

STATISTICS = "usage_records_day"


def _supported() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.server_version_info >= (14,)


def upgrade() -> None:
    if _supported():
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} ON (CAST(created_at AS DATE)) FROM usage_records")


def downgrade() -> None:
    if _supported():
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
