"""Initial schema of the analytics service, with the common outbox, inbox and idempotency tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-02 05:10:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from shared.db.common_migrations import create_common_tables_v1, drop_common_tables_v1
from shared.db.types import ExactDecimal, UTCDateTime

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_common_tables_v1(op)
    op.create_table('applied_fact',
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('ref', name=op.f('pk_applied_fact'))
    )
    op.create_table('case_fact',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('received_month', sa.String(length=7), nullable=True),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('breached', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_fact'))
    )
    op.create_table('case_month',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('breached', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'kind', name=op.f('pk_case_month'))
    )
    op.create_table('cost_rate',
    sa.Column('activity', sa.String(length=40), nullable=False),
    sa.Column('rate', sa.BigInteger(), nullable=False),
    sa.Column('updated_by', sa.Text(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('activity', name=op.f('pk_cost_rate'))
    )
    op.create_table('customer_activity_month',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('activity', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'month', 'activity', name=op.f('pk_customer_activity_month'))
    )
    op.create_table('customer_demand',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('granularity', sa.String(length=5), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('net', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'category', 'granularity', 'period', name=op.f('pk_customer_demand'))
    )
    op.create_table('customer_dim',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('manager_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('merged_into_id', sa.String(length=64), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=True),
    sa.Column('manager_revision', sa.Integer(), nullable=True),
    sa.Column('state_at', UTCDateTime(), nullable=True),
    sa.Column('registered_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_dim'))
    )
    op.create_table('customer_month',
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('cost_of_goods', sa.BigInteger(), nullable=False),
    sa.Column('gross_margin', sa.BigInteger(), nullable=False),
    sa.Column('discounts', sa.BigInteger(), nullable=False),
    sa.Column('compensation', sa.BigInteger(), nullable=False),
    sa.Column('cost_to_serve', sa.BigInteger(), nullable=False),
    sa.Column('net_contribution', sa.BigInteger(), nullable=False),
    sa.Column('sales_net', sa.BigInteger(), nullable=False),
    sa.Column('returns_net', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'month', name=op.f('pk_customer_month'))
    )
    with op.batch_alter_table('customer_month', schema=None) as batch_op:
        batch_op.create_index('ix_customer_month_month', ['month', 'customer_id'], unique=False)

    op.create_table('customer_profit',
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('cost_of_goods', sa.BigInteger(), nullable=False),
    sa.Column('gross_margin', sa.BigInteger(), nullable=False),
    sa.Column('discounts', sa.BigInteger(), nullable=False),
    sa.Column('compensation', sa.BigInteger(), nullable=False),
    sa.Column('cost_to_serve', sa.BigInteger(), nullable=False),
    sa.Column('net_contribution', sa.BigInteger(), nullable=False),
    sa.Column('sales_net', sa.BigInteger(), nullable=False),
    sa.Column('returns_net', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('manager_id', sa.String(length=64), nullable=True),
    sa.Column('first_purchase_at', UTCDateTime(), nullable=True),
    sa.Column('last_purchase_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_profit'))
    )
    with op.batch_alter_table('customer_profit', schema=None) as batch_op:
        batch_op.create_index('ix_customer_profit_cost_to_serve', ['cost_to_serve', 'customer_id'], unique=False)
        batch_op.create_index('ix_customer_profit_gross_margin', ['gross_margin', 'customer_id'], unique=False)
        batch_op.create_index('ix_customer_profit_manager', ['manager_id', 'net_contribution', 'customer_id'], unique=False)
        batch_op.create_index('ix_customer_profit_net_contribution', ['net_contribution', 'customer_id'], unique=False)
        batch_op.create_index('ix_customer_profit_revenue', ['revenue', 'customer_id'], unique=False)
        batch_op.create_index('ix_customer_profit_segment', ['segment', 'net_contribution', 'customer_id'], unique=False)

    op.create_table('customer_score',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', sa.BigInteger(), nullable=False),
    sa.Column('r', sa.Integer(), nullable=False),
    sa.Column('f', sa.Integer(), nullable=False),
    sa.Column('m', sa.Integer(), nullable=False),
    sa.Column('rfm_group', sa.String(length=16), nullable=False),
    sa.Column('p_alive', sa.Float(), nullable=True),
    sa.Column('expected_purchases_12m', sa.Float(), nullable=True),
    sa.Column('expected_order_value', sa.BigInteger(), nullable=True),
    sa.Column('predicted_value_12m', sa.BigInteger(), nullable=True),
    sa.Column('historical_value', sa.BigInteger(), nullable=False),
    sa.Column('computed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_score'))
    )
    with op.batch_alter_table('customer_score', schema=None) as batch_op:
        batch_op.create_index('ix_customer_score_group', ['rfm_group', 'customer_id'], unique=False)

    op.create_table('detected_trend',
    sa.Column('trend_id', sa.String(length=300), nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('granularity', sa.String(length=5), nullable=False),
    sa.Column('measure', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('direction', sa.String(length=20), nullable=False),
    sa.Column('statistic', sa.Float(), nullable=False),
    sa.Column('sen_slope', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('adjusted_p_value', sa.Float(), nullable=False),
    sa.Column('series_start', sa.String(length=8), nullable=False),
    sa.Column('series_end', sa.String(length=8), nullable=False),
    sa.Column('first_seen_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('trend_id', name=op.f('pk_detected_trend'))
    )
    op.create_table('employee_dim',
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('employee_id', name=op.f('pk_employee_dim'))
    )
    op.create_table('job_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('dirty_at', UTCDateTime(), nullable=True),
    sa.Column('last_run_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_state'))
    )
    op.create_table('manager_month',
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('cost_of_goods', sa.BigInteger(), nullable=False),
    sa.Column('gross_margin', sa.BigInteger(), nullable=False),
    sa.Column('discounts', sa.BigInteger(), nullable=False),
    sa.Column('compensation', sa.BigInteger(), nullable=False),
    sa.Column('cost_to_serve', sa.BigInteger(), nullable=False),
    sa.Column('net_contribution', sa.BigInteger(), nullable=False),
    sa.Column('sales_net', sa.BigInteger(), nullable=False),
    sa.Column('returns_net', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('manager_id', 'month', name=op.f('pk_manager_month'))
    )
    op.create_table('model_fit',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('fitted_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_model_fit'))
    )
    op.create_table('order_fact',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('sales_employee_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', UTCDateTime(), nullable=True),
    sa.Column('paid_net', sa.BigInteger(), nullable=False),
    sa.Column('returned_net', sa.BigInteger(), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_fact'))
    )
    with op.batch_alter_table('order_fact', schema=None) as batch_op:
        batch_op.create_index('ix_order_fact_account_paid', ['account_id', 'paid_at'], unique=False)

    op.create_table('period_result',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('net_sales', sa.Text(), nullable=False),
    sa.Column('weighted_points', sa.Text(), nullable=False),
    sa.Column('bonus', sa.Text(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'employee_id', name=op.f('pk_period_result'))
    )
    op.create_table('product_weight',
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('effective_at', UTCDateTime(), nullable=False),
    sa.Column('weight', ExactDecimal(12, 4), nullable=False),
    sa.Column('locomotive', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('product_id', 'effective_at', name=op.f('pk_product_weight'))
    )
    op.create_table('risk_state',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.Column('since', UTCDateTime(), nullable=True),
    sa.Column('episodes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_risk_state'))
    )
    op.create_table('sale_line',
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('weighted_at', UTCDateTime(), nullable=False),
    sa.Column('net', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('ref', name=op.f('pk_sale_line'))
    )
    with op.batch_alter_table('sale_line', schema=None) as batch_op:
        batch_op.create_index('ix_sale_line_period', ['period', 'employee_id'], unique=False)

    op.create_table('segment_demand',
    sa.Column('segment', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('granularity', sa.String(length=5), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('net', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('segment', 'category', 'granularity', 'period', name=op.f('pk_segment_demand'))
    )
    with op.batch_alter_table('segment_demand', schema=None) as batch_op:
        batch_op.create_index('ix_segment_demand_granularity', ['granularity', 'segment', 'category', 'period'], unique=False)

    op.create_table('segment_month',
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('cost_of_goods', sa.BigInteger(), nullable=False),
    sa.Column('gross_margin', sa.BigInteger(), nullable=False),
    sa.Column('discounts', sa.BigInteger(), nullable=False),
    sa.Column('compensation', sa.BigInteger(), nullable=False),
    sa.Column('cost_to_serve', sa.BigInteger(), nullable=False),
    sa.Column('net_contribution', sa.BigInteger(), nullable=False),
    sa.Column('sales_net', sa.BigInteger(), nullable=False),
    sa.Column('returns_net', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('segment', 'month', name=op.f('pk_segment_month'))
    )
    op.create_table('trend_status',
    sa.Column('segment', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('granularity', sa.String(length=5), nullable=False),
    sa.Column('measure', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('direction', sa.String(length=20), nullable=False),
    sa.Column('statistic', sa.Float(), nullable=True),
    sa.Column('sen_slope', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('adjusted_p_value', sa.Float(), nullable=True),
    sa.Column('relative_change', sa.Float(), nullable=True),
    sa.Column('change_period', sa.String(length=8), nullable=True),
    sa.Column('series_start', sa.String(length=8), nullable=True),
    sa.Column('series_end', sa.String(length=8), nullable=True),
    sa.Column('computed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('segment', 'category', 'granularity', 'measure', 'method', name=op.f('pk_trend_status'))
    )
    # The default unit costs (IDR minor units), frozen as of this migration (services/analytics/activities.py).
    default_rates = {
        'interaction.phone': 1500000,
        'interaction.email': 500000,
        'interaction.sms': 100000,
        'interaction.messenger': 300000,
        'interaction.post': 2000000,
        'consultation': 15000000,
        'announcement.phone': 1000000,
        'announcement.email': 50000,
        'announcement.sms': 100000,
        'announcement.messenger': 50000,
        'announcement.post': 1200000,
        'case.complaint': 10000000,
        'case.claim': 15000000,
        'case.objection': 5000000,
        'case.suggestion': 2000000,
        'case.comment': 1000000,
    }
    now = datetime.now(UTC)
    op.bulk_insert(sa.table('cost_rate', sa.column('activity', sa.String), sa.column('rate', sa.BigInteger),
                            sa.column('updated_at', UTCDateTime())),
                   [{'activity': a, 'rate': v, 'updated_at': now} for a, v in default_rates.items()])
    op.bulk_insert(sa.table('job_state', sa.column('name', sa.String), sa.column('dirty_at', UTCDateTime())),
                   [{'name': 'detect', 'dirty_at': now}])


def downgrade() -> None:
    op.drop_table('trend_status')
    op.drop_table('segment_month')
    with op.batch_alter_table('segment_demand', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_demand_granularity')

    op.drop_table('segment_demand')
    with op.batch_alter_table('sale_line', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_line_period')

    op.drop_table('sale_line')
    op.drop_table('risk_state')
    op.drop_table('product_weight')
    op.drop_table('period_result')
    with op.batch_alter_table('order_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_order_fact_account_paid')

    op.drop_table('order_fact')
    op.drop_table('model_fit')
    op.drop_table('manager_month')
    op.drop_table('job_state')
    op.drop_table('employee_dim')
    op.drop_table('detected_trend')
    with op.batch_alter_table('customer_score', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_score_group')

    op.drop_table('customer_score')
    with op.batch_alter_table('customer_profit', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_profit_segment')
        batch_op.drop_index('ix_customer_profit_revenue')
        batch_op.drop_index('ix_customer_profit_net_contribution')
        batch_op.drop_index('ix_customer_profit_manager')
        batch_op.drop_index('ix_customer_profit_gross_margin')
        batch_op.drop_index('ix_customer_profit_cost_to_serve')

    op.drop_table('customer_profit')
    with op.batch_alter_table('customer_month', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_month_month')

    op.drop_table('customer_month')
    op.drop_table('customer_dim')
    op.drop_table('customer_demand')
    op.drop_table('customer_activity_month')
    op.drop_table('cost_rate')
    op.drop_table('case_month')
    op.drop_table('case_fact')
    op.drop_table('applied_fact')
    drop_common_tables_v1(op)
