"""Announcements count sent and failed deliveries apart; the audience counts both.

Until now ``audience_size`` counted only the sent deliveries: existing rows are recounted from
their deliveries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 11:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _count(status: str) -> str:
    return ("(SELECT count(*) FROM announcement_delivery d "
            f"WHERE d.announcement_id = announcement.id AND d.status = '{status}')")


def upgrade() -> None:
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('failed', sa.Integer(), nullable=False, server_default='0'))
    op.execute(f"UPDATE announcement SET sent = {_count('sent')}, failed = {_count('failed')}")
    op.execute("UPDATE announcement SET audience_size = sent + failed")
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.alter_column('sent', server_default=None)
        batch_op.alter_column('failed', server_default=None)


def downgrade() -> None:
    op.execute("UPDATE announcement SET audience_size = sent")
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_column('failed')
        batch_op.drop_column('sent')
