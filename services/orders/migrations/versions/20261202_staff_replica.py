"""The replica of the staff directory (incentives' employees): sales employees are checked against it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00
"""
from collections.abc import Sequence

from alembic import op

from shared.staff.directory import TABLE_NAME, create_replica_table

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_replica_table(op)


def downgrade() -> None:
    op.drop_table(TABLE_NAME)
