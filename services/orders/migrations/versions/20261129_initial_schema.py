"""Initial schema of the orders service, with the common outbox, inbox and idempotency tables.

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 04:29:22.012071
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
    op.create_table('customer_replica',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('manager_id', sa.String(length=64), nullable=True),
    sa.Column('merged_into_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('state_at', UTCDateTime(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_replica'))
    )
    op.create_table('loyalty_account',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance', Money(), nullable=False),
    sa.Column('tier', sa.String(length=64), nullable=True),
    sa.Column('discount_percent', ExactDecimal(5, 2), nullable=False),
    sa.Column('merged_into_id', sa.String(length=64), nullable=True),
    sa.Column('tier_changed_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_loyalty_account'))
    )
    op.create_table('loyalty_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=36), nullable=False),
    sa.Column('amount', Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_entry')),
    sa.UniqueConstraint('order_id', 'kind', 'ref', name='uq_loyalty_entry_order_id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('loyalty_entry', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_entry_customer_effective', ['customer_id', 'effective_at'], unique=False)

    op.create_table('loyalty_program',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('qualifying_window', sa.String(length=16), nullable=False),
    sa.Column('window_months', sa.Integer(), nullable=True),
    sa.Column('downgrade', sa.String(length=16), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_loyalty_program'))
    )
    op.create_table('product',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('unit_price', Money(), nullable=False),
    sa.Column('unit_cost', Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('price_effective_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product')),
    sa.UniqueConstraint('sku', name=op.f('uq_product_sku'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_category'), ['category'], unique=False)

    op.create_table('sales_order',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('sales_employee_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('loyalty_tier', sa.String(length=64), nullable=True),
    sa.Column('discount_percent', ExactDecimal(5, 2), nullable=False),
    sa.Column('gross', Money(), nullable=False),
    sa.Column('discount', Money(), nullable=False),
    sa.Column('net', Money(), nullable=False),
    sa.Column('cost', Money(), nullable=False),
    sa.Column('returned_gross', Money(), nullable=False),
    sa.Column('returned_discount', Money(), nullable=False),
    sa.Column('returned_net', Money(), nullable=False),
    sa.Column('returned_cost', Money(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('payment_method', sa.String(length=32), nullable=True),
    sa.Column('payment_reference', sa.String(length=120), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('placed_by', sa.Text(), nullable=False),
    sa.Column('placed_at', UTCDateTime(), nullable=False),
    sa.Column('paid_at', UTCDateTime(), nullable=True),
    sa.Column('fulfilled_at', UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', UTCDateTime(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_order'))
    )
    with op.batch_alter_table('sales_order', schema=None) as batch_op:
        batch_op.create_index('ix_sales_order_customer_placed', ['customer_id', 'placed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_order_placed_at'), ['placed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_order_sales_employee_id'), ['sales_employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_order_status'), ['status'], unique=False)

    op.create_table('order_line',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', Money(), nullable=False),
    sa.Column('unit_cost', Money(), nullable=False),
    sa.Column('discount_percent', ExactDecimal(5, 2), nullable=False),
    sa.Column('gross', Money(), nullable=False),
    sa.Column('discount', Money(), nullable=False),
    sa.Column('net', Money(), nullable=False),
    sa.Column('cost', Money(), nullable=False),
    sa.Column('returned_quantity', sa.Integer(), nullable=False),
    sa.Column('returned_net', Money(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['sales_order.id'], name=op.f('fk_order_line_order_id_sales_order')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_order_line_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_line')),
    sa.UniqueConstraint('order_id', 'product_id', name='uq_order_line_order_product')
    )
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_line_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_line_product_id'), ['product_id'], unique=False)

    op.create_table('order_return',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('gross', Money(), nullable=False),
    sa.Column('discount', Money(), nullable=False),
    sa.Column('net', Money(), nullable=False),
    sa.Column('cost', Money(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['sales_order.id'], name=op.f('fk_order_return_order_id_sales_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_return'))
    )
    with op.batch_alter_table('order_return', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_return_order_id'), ['order_id'], unique=False)

    op.create_table('product_price',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('unit_price', Money(), nullable=False),
    sa.Column('unit_cost', Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_product_price_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_price'))
    )
    with op.batch_alter_table('product_price', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_price_product_id'), ['product_id'], unique=False)

    op.create_table('order_return_line',
    sa.Column('return_id', sa.String(length=36), nullable=False),
    sa.Column('order_line_id', sa.String(length=36), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('gross', Money(), nullable=False),
    sa.Column('discount', Money(), nullable=False),
    sa.Column('net', Money(), nullable=False),
    sa.Column('cost', Money(), nullable=False),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_line.id'], name=op.f('fk_order_return_line_order_line_id_order_line')),
    sa.ForeignKeyConstraint(['return_id'], ['order_return.id'], name=op.f('fk_order_return_line_return_id_order_return')),
    sa.PrimaryKeyConstraint('return_id', 'order_line_id', name=op.f('pk_order_return_line'))
    )


def downgrade() -> None:
    op.drop_table('order_return_line')
    with op.batch_alter_table('product_price', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_price_product_id'))

    op.drop_table('product_price')
    with op.batch_alter_table('order_return', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_return_order_id'))

    op.drop_table('order_return')
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_line_product_id'))
        batch_op.drop_index(batch_op.f('ix_order_line_order_id'))

    op.drop_table('order_line')
    with op.batch_alter_table('sales_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_order_status'))
        batch_op.drop_index(batch_op.f('ix_sales_order_sales_employee_id'))
        batch_op.drop_index(batch_op.f('ix_sales_order_placed_at'))
        batch_op.drop_index('ix_sales_order_customer_placed')

    op.drop_table('sales_order')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_category'))
        batch_op.drop_index(batch_op.f('ix_product_active'))

    op.drop_table('product')
    op.drop_table('loyalty_program')
    with op.batch_alter_table('loyalty_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_entry_customer_effective')

    op.drop_table('loyalty_entry')
    op.drop_table('loyalty_account')
    op.drop_table('customer_replica')
    drop_common_tables_v1(op)
