"""Consultations can be cancelled (status ``cancelled``, when and why).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
