"""stored responses (the Responses API's `store`)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 01:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stored_responses',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('api_key_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('model', sa.String(length=256), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('input_items', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stored_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_responses_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stored_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_responses_created_at'))
    op.drop_table('stored_responses')
