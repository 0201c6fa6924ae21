"""Initial schema of the customers service, with the common outbox, inbox and idempotency tables.

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 04:20:41.316151
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.common_migrations import create_common_tables_v1, drop_common_tables_v1
from shared.db.types import UTCDateTime


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_common_tables_v1(op)
    op.create_table('announcement',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('segments', sa.JSON(), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('audience_size', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement'))
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcement_created_at'), ['created_at'], unique=False)

    op.create_table('customer',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('emails', sa.JSON(), nullable=False),
    sa.Column('phones', sa.JSON(), nullable=False),
    sa.Column('tax_id', sa.String(length=64), nullable=True),
    sa.Column('address', sa.JSON(), nullable=True),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=120), nullable=True),
    sa.Column('first_contact_channel', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('preferred_channel', sa.String(length=16), nullable=True),
    sa.Column('manager_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('merged_into_id', sa.String(length=36), nullable=True),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('erased_at', UTCDateTime(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer'))
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_manager_id'), ['manager_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_segment'), ['segment'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_status'), ['status'], unique=False)

    op.create_table('announcement_delivery',
    sa.Column('announcement_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcement.id'], name=op.f('fk_announcement_delivery_announcement_id_announcement')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_announcement_delivery_customer_id_customer')),
    sa.PrimaryKeyConstraint('announcement_id', 'customer_id', name=op.f('pk_announcement_delivery'))
    )
    op.create_table('consent',
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_consent_customer_id_customer')),
    sa.PrimaryKeyConstraint('customer_id', 'channel', name=op.f('pk_consent'))
    )
    op.create_table('consent_change',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('changed_by', sa.Text(), nullable=False),
    sa.Column('changed_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_consent_change_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_change'))
    )
    with op.batch_alter_table('consent_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_change_customer_id'), ['customer_id'], unique=False)

    op.create_table('consultation',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('source_key', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('completed_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_consultation_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation')),
    sa.UniqueConstraint('source_key', name='uq_consultation_source_key')
    )
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consultation_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consultation_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consultation_status'), ['status'], unique=False)

    op.create_table('customer_identifier',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_identifier_customer_id_customer')),
    sa.PrimaryKeyConstraint('kind', 'value', name=op.f('pk_customer_identifier'))
    )
    with op.batch_alter_table('customer_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_identifier_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_tag',
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_tag_customer_id_customer')),
    sa.PrimaryKeyConstraint('customer_id', 'tag', name=op.f('pk_customer_tag'))
    )
    with op.batch_alter_table('customer_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_tag_tag'), ['tag'], unique=False)

    op.create_table('interaction',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=True),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_interaction_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interaction'))
    )
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interaction_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interaction_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('manager_assignment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('assigned_by', sa.Text(), nullable=False),
    sa.Column('assigned_at', UTCDateTime(), nullable=False),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_manager_assignment_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manager_assignment'))
    )
    with op.batch_alter_table('manager_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manager_assignment_customer_id'), ['customer_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('manager_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manager_assignment_customer_id'))

    op.drop_table('manager_assignment')
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interaction_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_interaction_customer_id'))

    op.drop_table('interaction')
    with op.batch_alter_table('customer_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_tag_tag'))

    op.drop_table('customer_tag')
    with op.batch_alter_table('customer_identifier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_identifier_customer_id'))

    op.drop_table('customer_identifier')
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_status'))
        batch_op.drop_index(batch_op.f('ix_consultation_employee_id'))
        batch_op.drop_index(batch_op.f('ix_consultation_due_at'))
        batch_op.drop_index(batch_op.f('ix_consultation_customer_id'))

    op.drop_table('consultation')
    with op.batch_alter_table('consent_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_change_customer_id'))

    op.drop_table('consent_change')
    op.drop_table('consent')
    op.drop_table('announcement_delivery')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_status'))
        batch_op.drop_index(batch_op.f('ix_customer_segment'))
        batch_op.drop_index(batch_op.f('ix_customer_manager_id'))
        batch_op.drop_index(batch_op.f('ix_customer_created_at'))

    op.drop_table('customer')
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcement_created_at'))

    op.drop_table('announcement')
    drop_common_tables_v1(op)
