"""usage token detail: cached, cache-write and reasoning tokens per record

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 01:10:00

Existing records keep their values and read 0 for the new columns (server default); an older instance's
inserts keep working during a rolling upgrade. The report's covering index is rebuilt to include the new
columns (concurrently on PostgreSQL, so inserts are not blocked while it builds).
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NEW_COLUMNS = ('cached_tokens', 'cache_write_tokens', 'reasoning_tokens')
OLD_INCLUDE = ['provider', 'model', 'api_key_id', 'user', 'owner', 'status_code', 'cached',
               'prompt_tokens', 'completion_tokens', 'total_tokens', 'cost_usd', 'saved_cost_usd']


def _rebuild_report_index(include: list[str]) -> None:
    op.drop_index('ix_usage_report', table_name='usage_records')
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index('ix_usage_report', 'usage_records', ['created_at'], unique=False,
                            postgresql_include=include, postgresql_concurrently=True)
    else:
        op.create_index('ix_usage_report', 'usage_records', ['created_at'], unique=False)


def upgrade() -> None:
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        for name in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default=sa.text('0'), nullable=False))
    _rebuild_report_index(OLD_INCLUDE + list(NEW_COLUMNS))


def downgrade() -> None:
    _rebuild_report_index(OLD_INCLUDE)
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        for name in NEW_COLUMNS:
            batch_op.drop_column(name)
