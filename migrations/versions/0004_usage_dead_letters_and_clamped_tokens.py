"""usage dead letters and clamped token counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 01:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'usage_dead_letters',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('request_id', sa.String(length=200), nullable=True),
        sa.Column('failed_at', sa.DateTime(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('row', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tokens_clamped', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.drop_column('tokens_clamped')
    op.drop_table('usage_dead_letters')
