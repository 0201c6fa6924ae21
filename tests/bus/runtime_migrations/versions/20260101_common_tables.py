"""The common tables and the probe effect table: the schema of the bus tests' own service.

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00
"""

import sqlalchemy as sa
from alembic import op

from shared.db.common_migrations import create_common_tables_v1, drop_common_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_common_tables_v1(op)
    op.create_table(  # as tests.bus.conftest.probe_effect
        "probe_effect",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("probe_effect")
    drop_common_tables_v1(op)
