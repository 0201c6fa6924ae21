"""Initial schema of the feedback service, with the common outbox, inbox and idempotency tables.

Revision ID: 0001
Revises: 
Create Date: 2026-12-02 05:16:26.272016
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.common_migrations import create_common_tables_v1, drop_common_tables_v1
from shared.db.types import Money, UTCDateTime


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_common_tables_v1(op)
    op.create_table('category',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('parent_key', sa.String(length=36), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('retired_at', UTCDateTime(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['category.id'], name=op.f('fk_category_parent_id_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category')),
    sa.UniqueConstraint('parent_key', 'name_key', name='uq_category_sibling_name')
    )
    op.create_index('ix_category_parent_id', 'category', ['parent_id'], unique=False)
    op.create_index('ix_category_path', 'category', ['path'], unique=False)

    op.create_table('customer_replica',
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('segment', sa.Text(), nullable=True),
    sa.Column('merged_into_id', sa.String(length=36), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=True),
    sa.Column('state_at', UTCDateTime(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_replica'))
    )
    op.create_table('employee_replica',
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('team', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('hired_on', sa.Date(), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('state_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('employee_id', name=op.f('pk_employee_replica'))
    )
    op.create_index('ix_employee_replica_role', 'employee_replica', ['role'], unique=False)

    op.create_table('feedback_case',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('original_customer_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('line_nos', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category_id', sa.String(length=36), nullable=True),
    sa.Column('category_path', sa.Text(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('priority_by_rule', sa.Boolean(), nullable=False),
    sa.Column('assignee_id', sa.String(length=64), nullable=True),
    sa.Column('employee_id', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('received_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('sla_policy_version', sa.Integer(), nullable=False),
    sa.Column('fr_target_us', sa.BigInteger(), nullable=True),
    sa.Column('fr_working', sa.Boolean(), nullable=False),
    sa.Column('fr_run', sa.String(length=10), nullable=False),
    sa.Column('fr_elapsed_us', sa.BigInteger(), nullable=False),
    sa.Column('fr_held_us', sa.BigInteger(), nullable=False),
    sa.Column('fr_since', UTCDateTime(), nullable=False),
    sa.Column('fr_due_at', UTCDateTime(), nullable=True),
    sa.Column('fr_at_risk_at', UTCDateTime(), nullable=True),
    sa.Column('fr_breached', sa.Boolean(), nullable=False),
    sa.Column('first_response_at', UTCDateTime(), nullable=True),
    sa.Column('res_target_us', sa.BigInteger(), nullable=True),
    sa.Column('res_working', sa.Boolean(), nullable=False),
    sa.Column('res_run', sa.String(length=10), nullable=False),
    sa.Column('res_elapsed_us', sa.BigInteger(), nullable=False),
    sa.Column('res_held_us', sa.BigInteger(), nullable=False),
    sa.Column('res_since', UTCDateTime(), nullable=False),
    sa.Column('res_due_at', UTCDateTime(), nullable=True),
    sa.Column('res_at_risk_at', UTCDateTime(), nullable=True),
    sa.Column('res_breached', sa.Boolean(), nullable=False),
    sa.Column('sla_breached', sa.Boolean(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('next_deadline_at', UTCDateTime(), nullable=True),
    sa.Column('waiting_since', UTCDateTime(), nullable=True),
    sa.Column('resolution_no', sa.Integer(), nullable=False),
    sa.Column('resolved_at', UTCDateTime(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('rated', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_feedback_case')),
    sa.UniqueConstraint('id', name=op.f('uq_feedback_case_id')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_feedback_case_assignee_id', 'feedback_case', ['assignee_id'], unique=False)
    op.create_index('ix_feedback_case_category_path', 'feedback_case', ['category_path'], unique=False)
    op.create_index('ix_feedback_case_customer_received', 'feedback_case', ['customer_id', 'received_at'], unique=False)
    op.create_index('ix_feedback_case_employee_id', 'feedback_case', ['employee_id'], unique=False)
    op.create_index('ix_feedback_case_kind', 'feedback_case', ['kind'], unique=False)
    op.create_index('ix_feedback_case_next_deadline_at', 'feedback_case', ['next_deadline_at'], unique=False)
    op.create_index('ix_feedback_case_order_id', 'feedback_case', ['order_id'], unique=False)
    op.create_index('ix_feedback_case_priority', 'feedback_case', ['priority'], unique=False)
    op.create_index('ix_feedback_case_product_id', 'feedback_case', ['product_id'], unique=False)
    op.create_index('ix_feedback_case_received', 'feedback_case', ['received_at', 'id'], unique=False)
    op.create_index('ix_feedback_case_sla_breached', 'feedback_case', ['sla_breached'], unique=False)
    op.create_index('ix_feedback_case_status', 'feedback_case', ['status'], unique=False)

    op.create_table('order_replica',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('state_at', UTCDateTime(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_replica'))
    )
    op.create_index('ix_order_replica_customer_id', 'order_replica', ['customer_id'], unique=False)

    op.create_table('product_replica',
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('state_at', UTCDateTime(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('product_id', name=op.f('pk_product_replica'))
    )
    op.create_table('sla_policy',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('raise_priority_segments', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_sla_policy'))
    )
    op.create_table('standard',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Text(), nullable=False),
    sa.Column('required_roles', sa.JSON(), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard'))
    )
    op.create_index('ix_standard_kind', 'standard', ['kind'], unique=False)

    op.create_table('working_calendar',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('week', sa.JSON(), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=True),
    sa.Column('subdivision', sa.String(length=16), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_working_calendar'))
    )
    op.create_table('case_activity',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['feedback_case.id'], name=op.f('fk_case_activity_case_id_feedback_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_activity')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_case_activity_case_id', 'case_activity', ['case_id'], unique=False)

    op.create_table('case_resolution',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('resolution_no', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('compensation', sa.String(length=20), nullable=False),
    sa.Column('compensation_amount', Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('cited_standard_id', sa.String(length=36), nullable=True),
    sa.Column('cited_standard_version', sa.Integer(), nullable=True),
    sa.Column('resolved_by', sa.Text(), nullable=False),
    sa.Column('resolved_at', UTCDateTime(), nullable=False),
    sa.Column('first_response_us', sa.BigInteger(), nullable=True),
    sa.Column('resolution_us', sa.BigInteger(), nullable=False),
    sa.Column('waited_us', sa.BigInteger(), nullable=False),
    sa.Column('first_response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rated_by', sa.Text(), nullable=True),
    sa.Column('rated_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['feedback_case.id'], name=op.f('fk_case_resolution_case_id_feedback_case')),
    sa.PrimaryKeyConstraint('case_id', 'resolution_no', name=op.f('pk_case_resolution'))
    )
    op.create_index('ix_case_resolution_cited_standard_id', 'case_resolution', ['cited_standard_id'], unique=False)
    op.create_index('ix_case_resolution_resolved_at', 'case_resolution', ['resolved_at'], unique=False)

    op.create_table('case_response',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Text(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('first_response', sa.Boolean(), nullable=False),
    sa.Column('cited_standard_id', sa.String(length=36), nullable=True),
    sa.Column('cited_standard_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['feedback_case.id'], name=op.f('fk_case_response_case_id_feedback_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_response'))
    )
    op.create_index('ix_case_response_case_at', 'case_response', ['case_id', 'at'], unique=False)
    op.create_index('ix_case_response_cited_standard_id', 'case_response', ['cited_standard_id'], unique=False)

    op.create_table('sla_breach',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('resolution_round', sa.Integer(), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('breached_at', UTCDateTime(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('detected_by', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['feedback_case.id'], name=op.f('fk_sla_breach_case_id_feedback_case')),
    sa.PrimaryKeyConstraint('case_id', 'target', name=op.f('pk_sla_breach'))
    )
    op.create_table('standard_acknowledgement',
    sa.Column('standard_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('acknowledged_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['standard.id'], name=op.f('fk_standard_acknowledgement_standard_id_standard')),
    sa.PrimaryKeyConstraint('standard_id', 'version', 'employee_id', name=op.f('pk_standard_acknowledgement'))
    )
    op.create_table('standard_version',
    sa.Column('standard_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=True),
    sa.Column('effective_from', UTCDateTime(), nullable=False),
    sa.Column('published_by', sa.Text(), nullable=False),
    sa.Column('published_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['standard_id'], ['standard.id'], name=op.f('fk_standard_version_standard_id_standard')),
    sa.PrimaryKeyConstraint('standard_id', 'version', name=op.f('pk_standard_version'))
    )


def downgrade() -> None:
    op.drop_table('standard_version')
    op.drop_table('standard_acknowledgement')
    op.drop_table('sla_breach')
    op.drop_index('ix_case_response_cited_standard_id', table_name='case_response')
    op.drop_index('ix_case_response_case_at', table_name='case_response')

    op.drop_table('case_response')
    op.drop_index('ix_case_resolution_resolved_at', table_name='case_resolution')
    op.drop_index('ix_case_resolution_cited_standard_id', table_name='case_resolution')

    op.drop_table('case_resolution')
    op.drop_index('ix_case_activity_case_id', table_name='case_activity')

    op.drop_table('case_activity')
    op.drop_table('working_calendar')
    op.drop_index('ix_standard_kind', table_name='standard')

    op.drop_table('standard')
    op.drop_table('sla_policy')
    op.drop_table('product_replica')
    op.drop_index('ix_order_replica_customer_id', table_name='order_replica')

    op.drop_table('order_replica')
    op.drop_index('ix_feedback_case_status', table_name='feedback_case')
    op.drop_index('ix_feedback_case_sla_breached', table_name='feedback_case')
    op.drop_index('ix_feedback_case_received', table_name='feedback_case')
    op.drop_index('ix_feedback_case_product_id', table_name='feedback_case')
    op.drop_index('ix_feedback_case_priority', table_name='feedback_case')
    op.drop_index('ix_feedback_case_order_id', table_name='feedback_case')
    op.drop_index('ix_feedback_case_next_deadline_at', table_name='feedback_case')
    op.drop_index('ix_feedback_case_kind', table_name='feedback_case')
    op.drop_index('ix_feedback_case_employee_id', table_name='feedback_case')
    op.drop_index('ix_feedback_case_customer_received', table_name='feedback_case')
    op.drop_index('ix_feedback_case_category_path', table_name='feedback_case')
    op.drop_index('ix_feedback_case_assignee_id', table_name='feedback_case')

    op.drop_table('feedback_case')
    op.drop_index('ix_employee_replica_role', table_name='employee_replica')

    op.drop_table('employee_replica')
    op.drop_table('customer_replica')
    op.drop_index('ix_category_path', table_name='category')
    op.drop_index('ix_category_parent_id', table_name='category')

    op.drop_table('category')
    drop_common_tables_v1(op)
