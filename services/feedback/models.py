"""Tables of the feedback service (and nothing else).

Durations of the SLA clocks are integer microseconds (``*_us``), exact under pause/resume; the
case holds both clocks (``fr_*`` first response, ``res_*`` resolution) as columns, so the lists'
SLA filters and the breach detector's next deadline are plain indexed comparisons.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from shared.db.base import service_base
from shared.db.types import Money, UTCDateTime, utcnow

Table = service_base("feedback")
metadata = Table.metadata

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def new_id() -> str:
    return str(uuid.uuid4())


def _utc(nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime, nullable=nullable, index=index)


def _actor(nullable: bool = False) -> sa.Column:
    # Token subjects and employee ids as the identity provider issued them: no length can be assumed.
    return sa.Column(sa.Text, nullable=nullable)


def _json(nullable: bool = False) -> sa.Column:
    return sa.Column(sa.JSON, nullable=nullable)


def _us(nullable: bool = True) -> sa.Column:
    return sa.Column(sa.BigInteger, nullable=nullable)


# ----- configuration: categories, SLA policies, the calendar ------------------------------------

class Category(Table, table=True):
    """A node of the managed category tree; ``path`` lists the ids from the root (``/a/b/``) for subtrees."""

    __tablename__ = "category"
    __table_args__ = (sa.UniqueConstraint("parent_key", "name_key", name="uq_category_sibling_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(sa_column=sa.Column(sa.String(120), nullable=False))
    name_key: str = Field(sa_column=sa.Column(sa.String(120), nullable=False))  # lower-cased, for uniqueness
    parent_id: str | None = Field(default=None, foreign_key="category.id", max_length=36, index=True)
    parent_key: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))  # parent id, "" at the root
    path: str = Field(sa_column=sa.Column(sa.Text, nullable=False, index=True))
    active: bool = Field(default=True)
    retired_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class SlaPolicyVersion(Table, table=True):
    """A version of the SLA policy; a case keeps the version it was opened under."""

    __tablename__ = "sla_policy"

    version: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    targets: list[dict[str, Any]] = Field(sa_column=_json())
    raise_priority_segments: list[str] = Field(sa_column=_json())
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class CalendarVersion(Table, table=True):
    """A version of the working calendar (the latest is in force; running clocks are rebased on a change)."""

    __tablename__ = "working_calendar"

    version: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    time_zone: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    week: dict[str, list[list[str]]] = Field(sa_column=_json())
    holidays: list[dict[str, str]] = Field(sa_column=_json())
    country: str | None = Field(default=None, sa_column=sa.Column(sa.String(8), nullable=True))
    subdivision: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


# ----- cases ----------------------------------------------------------------------------------

class Case(Table, table=True):
    """A complaint, claim, objection, suggestion or comment, with its two SLA clocks.

    ``seq`` numbers the cases (the human reference C-<year>-<seq> is derived from it); ``id`` is the
    public id. ``original_customer_id`` keeps who opened it when a merge re-keyed it to a survivor.
    """

    __tablename__ = "feedback_case"
    __table_args__ = (
        sa.Index("ix_feedback_case_received", "received_at", "id"),
        sa.Index("ix_feedback_case_customer_received", "customer_id", "received_at"),
        {"sqlite_autoincrement": True},
    )

    seq: int | None = Field(default=None, sa_column=sa.Column(BIGINT, primary_key=True, autoincrement=True))
    id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False, unique=True))
    kind: str = Field(sa_column=sa.Column(sa.String(20), nullable=False, index=True))
    status: str = Field(sa_column=sa.Column(sa.String(24), nullable=False, index=True))
    customer_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))
    original_customer_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))
    order_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True, index=True))
    product_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True, index=True))
    line_nos: list[int] = Field(sa_column=_json())
    channel: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    subject: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    category_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True))
    category_path: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True, index=True))
    tags: list[str] = Field(sa_column=_json())
    priority: str = Field(sa_column=sa.Column(sa.String(10), nullable=False, index=True))
    priority_by_rule: bool = Field(default=False)
    assignee_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True, index=True))
    employee_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True, index=True))
    currency: str = Field(sa_column=sa.Column(sa.String(3), nullable=False))
    received_at: datetime = Field(sa_column=_utc())
    created_by: str = Field(sa_column=_actor())
    updated_at: datetime = Field(sa_column=_utc())
    sla_policy_version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    # first-response clock
    fr_target_us: int | None = Field(default=None, sa_column=_us())
    fr_working: bool = Field(default=True)
    fr_run: str = Field(sa_column=sa.Column(sa.String(10), nullable=False))
    fr_elapsed_us: int = Field(default=0, sa_column=_us(nullable=False))
    fr_held_us: int = Field(default=0, sa_column=_us(nullable=False))
    fr_since: datetime = Field(sa_column=_utc())
    fr_due_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    fr_at_risk_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    fr_breached: bool = Field(default=False)
    first_response_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # resolution clock
    res_target_us: int | None = Field(default=None, sa_column=_us())
    res_working: bool = Field(default=True)
    res_run: str = Field(sa_column=sa.Column(sa.String(10), nullable=False))
    res_elapsed_us: int = Field(default=0, sa_column=_us(nullable=False))
    res_held_us: int = Field(default=0, sa_column=_us(nullable=False))
    res_since: datetime = Field(sa_column=_utc())
    res_due_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    res_at_risk_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    res_breached: bool = Field(default=False)
    # both clocks
    sla_breached: bool = Field(default=False, index=True)
    escalation_level: int = Field(default=0)
    next_deadline_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True, index=True))
    waiting_since: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    resolution_no: int = Field(default=0)
    resolved_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    rated: bool = Field(default=False)  # whether the latest resolution has its rating


class CaseActivity(Table, table=True):
    """The timeline: every status change, response, assignment and breach, with who and when.

    ``details`` holds ids and classifications only, never free text (erasure need not look here).
    """

    __tablename__ = "case_activity"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, sa_column=sa.Column(BIGINT, primary_key=True, autoincrement=True))
    case_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("feedback_case.id"), nullable=False,
                                             index=True))
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    actor: str = Field(sa_column=_actor())
    at: datetime = Field(sa_column=_utc())
    from_status: str | None = Field(default=None, sa_column=sa.Column(sa.String(24), nullable=True))
    to_status: str | None = Field(default=None, sa_column=sa.Column(sa.String(24), nullable=True))
    details: dict[str, Any] = Field(sa_column=_json())


class CaseResponse(Table, table=True):
    """A reply to the customer, an internal note, or what the customer said (recorded by staff)."""

    __tablename__ = "case_response"
    __table_args__ = (sa.Index("ix_case_response_case_at", "case_id", "at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    case_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("feedback_case.id"), nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    channel: str | None = Field(default=None, sa_column=sa.Column(sa.String(20), nullable=True))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    author_id: str = Field(sa_column=_actor())
    at: datetime = Field(sa_column=_utc())
    first_response: bool = Field(default=False)
    cited_standard_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True,
                                                                            index=True))
    cited_standard_version: int | None = Field(default=None)


class CaseResolution(Table, table=True):
    """One resolution of a case (a reopened case gets another), with its compensation and its rating."""

    __tablename__ = "case_resolution"

    case_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("feedback_case.id"), primary_key=True))
    resolution_no: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    outcome: str = Field(sa_column=sa.Column(sa.String(24), nullable=False))
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    compensation: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    compensation_amount: Decimal = Field(sa_column=sa.Column(Money, nullable=False))
    currency: str = Field(sa_column=sa.Column(sa.String(3), nullable=False))
    cited_standard_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True,
                                                                            index=True))
    cited_standard_version: int | None = Field(default=None)
    resolved_by: str = Field(sa_column=_actor())
    resolved_at: datetime = Field(sa_column=_utc(index=True))
    first_response_us: int | None = Field(default=None, sa_column=_us())
    resolution_us: int = Field(sa_column=_us(nullable=False))
    waited_us: int = Field(default=0, sa_column=_us(nullable=False))
    first_response_breached: bool = Field(default=False)
    resolution_breached: bool = Field(default=False)
    rating: int | None = Field(default=None)
    rating_comment: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    rated_by: str | None = Field(default=None, sa_column=_actor(nullable=True))
    rated_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class SlaBreach(Table, table=True):
    """A missed target, once per case and target: the primary key is the claim that reports it once."""

    __tablename__ = "sla_breach"

    case_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("feedback_case.id"), primary_key=True))
    target: str = Field(sa_column=sa.Column(sa.String(20), primary_key=True))
    resolution_round: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    due_at: datetime = Field(sa_column=_utc())
    breached_at: datetime = Field(sa_column=_utc())
    escalation_level: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    detected_by: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


# ----- replicas of other services' data -------------------------------------------------------

class CustomerReplica(Table, table=True):
    """What feedback knows of a customer (events, or the owner's HTTP answer): no personal data."""

    __tablename__ = "customer_replica"

    customer_id: str = Field(sa_column=sa.Column(sa.String(36), primary_key=True))
    status: str = Field(sa_column=sa.Column(sa.String(10), nullable=False))
    segment: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    merged_into_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True))
    revision: int | None = Field(default=None)
    state_at: datetime = Field(sa_column=_utc())
    source: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    updated_at: datetime = Field(sa_column=_utc())


class OrderReplica(Table, table=True):
    """An order as far as cases need it: whose it is, its status and which product is on which line."""

    __tablename__ = "order_replica"

    order_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    customer_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False, index=True))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    lines: list[dict[str, Any]] = Field(sa_column=_json())  # [{"line_no": 1, "product_id": "..."}]
    state_at: datetime = Field(sa_column=_utc())
    source: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    updated_at: datetime = Field(sa_column=_utc())


class ProductReplica(Table, table=True):
    __tablename__ = "product_replica"

    product_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    category: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    active: bool = Field(default=True)
    state_at: datetime = Field(sa_column=_utc())
    source: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    updated_at: datetime = Field(sa_column=_utc())


class EmployeeReplica(Table, table=True):
    """The staff directory as the incentives service publishes it (``incentives.employee.*``)."""

    __tablename__ = "employee_replica"

    employee_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, index=True))
    team: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    active: bool = Field(default=True)
    hired_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    left_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    state_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


# ----- service-quality standards ---------------------------------------------------------------

class Standard(Table, table=True):
    __tablename__ = "standard"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, index=True))
    title: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    owner_id: str = Field(sa_column=_actor())
    required_roles: list[str] = Field(sa_column=_json())
    latest_version: int = Field(default=0)
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class StandardVersion(Table, table=True):
    """A published version; in force from ``effective_from`` until a later version's takes over."""

    __tablename__ = "standard_version"

    standard_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("standard.id"), primary_key=True))
    version: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    title: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    change_note: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    effective_from: datetime = Field(sa_column=_utc())
    published_by: str = Field(sa_column=_actor())
    published_at: datetime = Field(sa_column=_utc())


class StandardAcknowledgement(Table, table=True):
    """An employee read and accepted a version: once per (standard, version, employee)."""

    __tablename__ = "standard_acknowledgement"

    standard_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("standard.id"), primary_key=True))
    version: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    employee_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    acknowledged_at: datetime = Field(sa_column=_utc())
    recorded_by: str = Field(sa_column=_actor())
