"""Index the replica's merged_into_id: a survivor's order history walks the merges into it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customer_replica', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_replica_merged_into_id'), ['merged_into_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_replica', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_replica_merged_into_id'))
