"""Tables of the customers service (and nothing else)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from shared.db.base import service_base
from shared.db.types import UTCDateTime, utcnow
from shared.staff.directory import replica_table

Table = service_base("customers")


def new_id() -> str:
    return str(uuid.uuid4())


def _utc(nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime, nullable=nullable, index=index)


def _actor() -> sa.Column:
    # The token's subject, as the identity provider issued it: no length of ours can be assumed
    # (a bounded column turned a long subject into a database error, i.e. a 500).
    return sa.Column(sa.Text, nullable=False)


class Customer(Table, table=True):
    __tablename__ = "customer"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=300)
    emails: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    phones: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    tax_id: str | None = Field(default=None, max_length=64)
    address: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    segment: str | None = Field(default=None, max_length=64, index=True)
    source: str | None = Field(default=None, max_length=120)
    first_contact_channel: str | None = Field(default=None, max_length=16)
    notes: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    preferred_channel: str | None = Field(default=None, max_length=16)
    manager_id: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="active", max_length=16, index=True)
    merged_into_id: str | None = Field(default=None, max_length=36)
    # Lower-cased name, e-mails and phone digits: the free-text search runs on one column.
    search_text: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    erased_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # 1 at registration, one more for every change of what replicas keep (snapshot, merge,
    # erasure, manager), always under the row lock: replicas order news by it, not by clocks.
    revision: int = Field(default=1)


class CustomerIdentifier(Table, table=True):
    """Normalised e-mails, phones and tax ids; the primary key is what refuses duplicates."""

    __tablename__ = "customer_identifier"

    kind: str = Field(primary_key=True, max_length=16)  # email | phone | tax_id
    value: str = Field(primary_key=True, max_length=320)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=36)


class CustomerTag(Table, table=True):
    __tablename__ = "customer_tag"

    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=36)
    tag: str = Field(primary_key=True, max_length=64, index=True)


class Consent(Table, table=True):
    """The consent in force per channel (the history is ``ConsentChange``)."""

    __tablename__ = "consent"

    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=36)
    channel: str = Field(primary_key=True, max_length=16)
    granted: bool
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class ConsentChange(Table, table=True):
    __tablename__ = "consent_change"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=36)
    channel: str = Field(max_length=16)
    granted: bool
    source: str = Field(max_length=200)
    changed_by: str = Field(sa_column=_actor())
    changed_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class ManagerAssignment(Table, table=True):
    __tablename__ = "manager_assignment"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=36)
    employee_id: str = Field(max_length=64)
    assigned_by: str = Field(sa_column=_actor())
    assigned_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class Interaction(Table, table=True):
    __tablename__ = "interaction"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=36)
    channel: str = Field(max_length=16)
    direction: str = Field(max_length=3)
    employee_id: str | None = Field(default=None, max_length=64)
    summary: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    outcome: str | None = Field(default=None, max_length=200)
    occurred_at: datetime = Field(sa_column=_utc(index=True))
    recorded_by: str = Field(sa_column=_actor())
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class Consultation(Table, table=True):
    __tablename__ = "consultation"
    __table_args__ = (
        sa.UniqueConstraint("source_key", name="uq_consultation_source_key"),
        # At most one open retention call per customer, whichever replica handles the news.
        sa.Index("uq_consultation_open_retention", "customer_id", unique=True,
                 postgresql_where=sa.text("reason = 'retention' AND status = 'scheduled'"),
                 sqlite_where=sa.text("reason = 'retention' AND status = 'scheduled'")),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=36)
    employee_id: str = Field(max_length=64, index=True)
    topic: str = Field(max_length=300)
    product_id: str | None = Field(default=None, max_length=64)
    due_at: datetime = Field(sa_column=_utc(index=True))
    status: str = Field(default="scheduled", max_length=16, index=True)  # scheduled | completed | cancelled
    outcome: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # Set when an event scheduled it (e.g. "<order id>:<product id>"): one consultation per cause.
    source_key: str | None = Field(default=None, max_length=200)
    reason: str = Field(default="manual", max_length=16)  # manual | locomotive_sale | retention
    order_id: str | None = Field(default=None, max_length=64, index=True)  # the sale a follow-up is about
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    completed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    cancel_reason: str | None = Field(default=None, max_length=32)  # a code (see ConsultationCancelledV1)


class LocomotiveFlag(Table, table=True):
    """A product's locomotive flag from a date on, as incentives announced it (incentives owns the
    weights; customers keeps only what it needs to know whether a sale calls for a follow-up)."""

    __tablename__ = "locomotive_flag"

    product_id: str = Field(primary_key=True, max_length=64)
    effective_at: datetime = Field(sa_column=sa.Column(UTCDateTime, primary_key=True))
    locomotive: bool
    set_at: datetime = Field(sa_column=_utc())  # a later change for the same date replaces an earlier one


class CancelledOrder(Table, table=True):
    """An order orders reported cancelled: a paid event arriving after it schedules no follow-up."""

    __tablename__ = "cancelled_order"

    order_id: str = Field(primary_key=True, max_length=64)
    cancelled_at: datetime = Field(sa_column=_utc())


# The staff directory as incentives publishes it: managers and consultation employees are checked against it.
StaffMember = replica_table(Table.metadata)


class Announcement(Table, table=True):
    __tablename__ = "announcement"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    segments: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    channels: list[str] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    audience_size: int = 0  # every customer targeted: sent + failed
    sent: int = 0
    failed: int = 0
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(index=True))


class AnnouncementDelivery(Table, table=True):
    __tablename__ = "announcement_delivery"

    announcement_id: str = Field(foreign_key="announcement.id", primary_key=True, max_length=36)
    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=36)
    channel: str = Field(max_length=16)
    status: str = Field(max_length=16)  # sent | failed
    detail: str | None = Field(default=None, max_length=500)
    delivered_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


metadata = Table.metadata
