"""Initial schema of the incentives service, with the common outbox, inbox and idempotency tables.

Revision ID: 0001
Revises: 
Create Date: 2026-12-02 04:56:27.278381
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.common_migrations import create_common_tables_v1, drop_common_tables_v1
from shared.db.types import ExactDecimal, Money, UTCDateTime


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_common_tables_v1(op)
    op.create_table('award',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', Money(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('gift_id', sa.String(length=36), nullable=True),
    sa.Column('gift_name', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('title_ms', sa.String(length=200), nullable=True),
    sa.Column('citation', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('granted_by', sa.Text(), nullable=False),
    sa.Column('granted_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_award'))
    )
    with op.batch_alter_table('award', schema=None) as batch_op:
        batch_op.create_index('ix_award_granted', ['granted_at', 'id'], unique=False)
        batch_op.create_index('ix_award_period_employee', ['period', 'employee_id'], unique=False)

    op.create_table('bonus_policy',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('effective_from', sa.String(length=7), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate_per_point', ExactDecimal(12, 6), nullable=False),
    sa.Column('min_fulfilment_percent', ExactDecimal(7, 2), nullable=False),
    sa.Column('accelerators', sa.JSON(), nullable=False),
    sa.Column('quality', sa.JSON(), nullable=False),
    sa.Column('cap', Money(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_bonus_policy'))
    )
    with op.batch_alter_table('bonus_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bonus_policy_effective_from'), ['effective_from'], unique=False)

    op.create_table('category_total',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('net_sales', Money(), server_default='0', nullable=False),
    sa.Column('points', ExactDecimal(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('period', 'employee_id', 'category', name=op.f('pk_category_total'))
    )
    op.create_table('contribution_line',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('natural_period', sa.String(length=7), nullable=False),
    sa.Column('adjustment', sa.Boolean(), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('net', Money(), nullable=False),
    sa.Column('weight', ExactDecimal(10, 4), nullable=False),
    sa.Column('locomotive', sa.Boolean(), nullable=False),
    sa.Column('points', ExactDecimal(), server_default='0', nullable=False),
    sa.Column('happened_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_line')),
    sa.UniqueConstraint('order_id', 'kind', 'ref', 'line_no', name='uq_contribution_line_order_id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('contribution_line', schema=None) as batch_op:
        batch_op.create_index('ix_contribution_line_period_employee', ['period', 'employee_id', 'id'], unique=False)

    op.create_table('contribution_total',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('net_sales', Money(), server_default='0', nullable=False),
    sa.Column('points', ExactDecimal(), server_default='0', nullable=False),
    sa.Column('locomotive_sales', Money(), server_default='0', nullable=False),
    sa.Column('locomotive_points', ExactDecimal(), server_default='0', nullable=False),
    sa.Column('adjustment_points', ExactDecimal(), server_default='0', nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('complaints', sa.Integer(), nullable=False),
    sa.Column('breaches', sa.Integer(), nullable=False),
    sa.Column('csat_sum', sa.Integer(), nullable=False),
    sa.Column('csat_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'employee_id', name=op.f('pk_contribution_total'))
    )
    op.create_table('employee',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_key', sa.String(length=254), nullable=True),
    sa.Column('hired_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee')),
    sa.UniqueConstraint('email_key', name=op.f('uq_employee_email_key'))
    )
    with op.batch_alter_table('employee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employee_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_employee_role'), ['role'], unique=False)
        batch_op.create_index(batch_op.f('ix_employee_team'), ['team'], unique=False)

    op.create_table('gift',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('value', Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift'))
    )
    with op.batch_alter_table('gift', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gift_category'), ['category'], unique=False)

    op.create_table('order_fact',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('paid_at', UTCDateTime(), nullable=True),
    sa.Column('sale_counted', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', UTCDateTime(), nullable=True),
    sa.Column('pending_cancellation', sa.JSON(), nullable=True),
    sa.Column('not_counted_reason', sa.String(length=200), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_fact'))
    )
    op.create_table('period_state',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('closed_by', sa.Text(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('bonus_policy_version', sa.Integer(), nullable=True),
    sa.Column('best_employee_id', sa.String(length=64), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_period_state'))
    )
    op.create_table('plan',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('company_target_points', ExactDecimal(), nullable=True),
    sa.Column('company_category_targets', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_plan'))
    )
    op.create_table('plan_target',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('target_points', ExactDecimal(), server_default='0', nullable=False),
    sa.Column('category_targets', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'employee_id', name=op.f('pk_plan_target'))
    )
    op.create_table('product',
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('state_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('product_id', name=op.f('pk_product'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_category'), ['category'], unique=False)

    op.create_table('product_weight',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_at', UTCDateTime(), nullable=False),
    sa.Column('weight', ExactDecimal(10, 4), nullable=False),
    sa.Column('locomotive', sa.Boolean(), nullable=False),
    sa.Column('set_by', sa.Text(), nullable=False),
    sa.Column('set_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_weight')),
    sa.UniqueConstraint('product_id', 'effective_from', name='uq_product_weight_product_id')
    )
    with op.batch_alter_table('product_weight', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_weight_product_id'), ['product_id'], unique=False)

    op.create_table('quality_breach',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('employees', sa.JSON(), nullable=False),
    sa.Column('counted_period', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('case_id', 'target', 'due_at', name=op.f('pk_quality_breach'))
    )
    op.create_table('quality_case',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('employee_id', sa.String(length=64), nullable=True),
    sa.Column('facts_at', UTCDateTime(), nullable=True),
    sa.Column('received_period', sa.String(length=7), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('outcome_at', UTCDateTime(), nullable=True),
    sa.Column('counted_employee_id', sa.String(length=64), nullable=True),
    sa.Column('counted_period', sa.String(length=7), nullable=True),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_quality_case'))
    )
    op.create_table('quality_rating',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('resolution_no', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('rated_at', UTCDateTime(), nullable=False),
    sa.Column('employees', sa.JSON(), nullable=False),
    sa.Column('counted_period', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('case_id', 'resolution_no', name=op.f('pk_quality_rating'))
    )


def downgrade() -> None:
    op.drop_table('quality_rating')
    op.drop_table('quality_case')
    op.drop_table('quality_breach')
    with op.batch_alter_table('product_weight', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_weight_product_id'))

    op.drop_table('product_weight')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_category'))

    op.drop_table('product')
    op.drop_table('plan_target')
    op.drop_table('plan')
    op.drop_table('period_state')
    op.drop_table('order_fact')
    with op.batch_alter_table('gift', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gift_category'))

    op.drop_table('gift')
    with op.batch_alter_table('employee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employee_team'))
        batch_op.drop_index(batch_op.f('ix_employee_role'))
        batch_op.drop_index(batch_op.f('ix_employee_active'))

    op.drop_table('employee')
    op.drop_table('contribution_total')
    with op.batch_alter_table('contribution_line', schema=None) as batch_op:
        batch_op.drop_index('ix_contribution_line_period_employee')

    op.drop_table('contribution_line')
    op.drop_table('category_total')
    with op.batch_alter_table('bonus_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bonus_policy_effective_from'))

    op.drop_table('bonus_policy')
    with op.batch_alter_table('award', schema=None) as batch_op:
        batch_op.drop_index('ix_award_period_employee')
        batch_op.drop_index('ix_award_granted')

    op.drop_table('award')
    drop_common_tables_v1(op)
