"""Follow-ups caused by events: a consultation's reason and order, one open retention call per
customer, the locomotive flags learnt from incentives, the orders reported cancelled; the replica of
the staff directory.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime
from shared.staff.directory import TABLE_NAME as STAFF_TABLE
from shared.staff.directory import create_replica_table

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_RETENTION = "reason = 'retention' AND status = 'scheduled'"


def upgrade() -> None:
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=16), nullable=False, server_default='manual'))
        batch_op.add_column(sa.Column('order_id', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_consultation_order_id', ['order_id'], unique=False)
    op.create_index('uq_consultation_open_retention', 'consultation', ['customer_id'], unique=True,
                    postgresql_where=sa.text(OPEN_RETENTION), sqlite_where=sa.text(OPEN_RETENTION))
    op.create_table(
        'locomotive_flag',
        sa.Column('product_id', sa.String(length=64), nullable=False),
        sa.Column('effective_at', UTCDateTime(), nullable=False),
        sa.Column('locomotive', sa.Boolean(), nullable=False),
        sa.Column('set_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('product_id', 'effective_at'),
    )
    op.create_table(
        'cancelled_order',
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('cancelled_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('order_id'),
    )
    create_replica_table(op)


def downgrade() -> None:
    op.drop_table(STAFF_TABLE)
    op.drop_table('cancelled_order')
    op.drop_table('locomotive_flag')
    op.drop_index('uq_consultation_open_retention', table_name='consultation')
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.drop_index('ix_consultation_order_id')
        batch_op.drop_column('order_id')
        batch_op.drop_column('reason')
