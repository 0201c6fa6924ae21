"""Tables of the incentives service (and nothing else).

No customer data is kept here: order facts hold the order id, the sales employee and instants,
never the customer, so erasures and merges of customers have nothing to reach in this database.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from shared.db.base import service_base
from shared.db.types import ExactDecimal, Money, UTCDateTime, utcnow

Table = service_base("incentives")


def new_id() -> str:
    return str(uuid.uuid4())


def _utc(nullable: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime, nullable=nullable)


def _money(nullable: bool = False, default: str | None = None) -> sa.Column:
    return sa.Column(Money, nullable=nullable, server_default=default)


def _points(nullable: bool = False) -> sa.Column:
    return sa.Column(ExactDecimal(20, 2), nullable=nullable, server_default=None if nullable else "0")


def _actor() -> sa.Column:
    return sa.Column(sa.Text, nullable=False)


def _json(nullable: bool = False) -> sa.Column:
    return sa.Column(sa.JSON, nullable=nullable)


def _bigint_pk() -> sa.Column:
    return sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True)


# ----- the staff directory ----------------------------------------------------------------------

class Employee(Table, table=True):
    """The system of record of the company's staff. Leaving keeps the row and its history."""

    __tablename__ = "employee"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32, index=True)  # sales | account_manager | support | head
    team: str | None = Field(default=None, max_length=100, index=True)
    email: str | None = Field(default=None, max_length=254)
    # The lower-cased e-mail: unique, so two employees never share one (insert-or-nothing, no check first).
    email_key: str | None = Field(default=None, max_length=254, unique=True)
    hired_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    left_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    active: bool = Field(default=True, index=True)
    revision: int = Field(default=1)
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


# ----- products and their weights -------------------------------------------------------------

class Product(Table, table=True):
    """The catalogue as the orders service announced it (the newest event wins)."""

    __tablename__ = "product"

    product_id: str = Field(primary_key=True, max_length=64)
    sku: str = Field(max_length=64)
    name: str = Field(max_length=300)
    category: str = Field(max_length=64, index=True)
    active: bool = Field(default=True)
    state_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class ProductWeight(Table, table=True):
    """A weight and locomotive flag in force from ``effective_at`` until the product's next row."""

    __tablename__ = "product_weight"
    __table_args__ = (sa.UniqueConstraint("product_id", "effective_from", name="uq_product_weight_product_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    product_id: str = Field(max_length=64, index=True)
    effective_from: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    effective_at: datetime = Field(sa_column=_utc())
    weight: Decimal = Field(sa_column=sa.Column(ExactDecimal(10, 4), nullable=False))
    locomotive: bool
    set_by: str = Field(sa_column=_actor())
    set_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


# ----- periods and plans -------------------------------------------------------------------

class PeriodState(Table, table=True):
    """One row per period that has figures: the lock every write to the period takes (shared) and
    the close takes (exclusive); once closed it holds the frozen results."""

    __tablename__ = "period_state"

    period: str = Field(primary_key=True, max_length=7)
    status: str = Field(default="open", max_length=8)  # open | closed
    closed_by: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    bonus_policy_version: int | None = Field(default=None)
    best_employee_id: str | None = Field(default=None, max_length=64)
    report: dict | None = Field(default=None, sa_column=_json(nullable=True))  # the frozen contributions report


class Plan(Table, table=True):
    __tablename__ = "plan"

    period: str = Field(primary_key=True, max_length=7)
    company_target_points: Decimal | None = Field(default=None, sa_column=_points(nullable=True))
    company_category_targets: dict = Field(default_factory=dict, sa_column=_json())
    revision: int = Field(default=1)
    updated_by: str = Field(sa_column=_actor())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class PlanTarget(Table, table=True):
    __tablename__ = "plan_target"

    period: str = Field(primary_key=True, max_length=7)
    employee_id: str = Field(primary_key=True, max_length=64)
    target_points: Decimal = Field(sa_column=_points())
    category_targets: dict = Field(default_factory=dict, sa_column=_json())


# ----- contributions ------------------------------------------------------------------------

class OrderFact(Table, table=True):
    """What incentives needs of one order, from whichever of its events arrived first."""

    __tablename__ = "order_fact"

    order_id: str = Field(primary_key=True, max_length=64)
    employee_id: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    paid_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    sale_counted: bool = Field(default=False)
    cancelled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # A paid order's cancellation that arrived before anything told us when it was paid (the
    # weights to take back are those in force at the payment): counted once the payment is known.
    pending_cancellation: dict | None = Field(default=None, sa_column=_json(nullable=True))
    not_counted_reason: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class ContributionLine(Table, table=True):
    """One counted line movement: a sale (+), a return or a cancellation (-), unique per order line
    and source, so a redelivered or replayed event changes nothing."""

    __tablename__ = "contribution_line"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "kind", "ref", "line_no", name="uq_contribution_line_order_id"),
        sa.Index("ix_contribution_line_period_employee", "period", "employee_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=_bigint_pk())
    period: str = Field(max_length=7)  # where it counts
    natural_period: str = Field(max_length=7)  # where it happened
    adjustment: bool = Field(default=False)  # counted later because its own period was closed
    employee_id: str = Field(max_length=64)
    order_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # sale | return | cancellation
    ref: str = Field(default="", max_length=64)
    line_no: int
    product_id: str = Field(max_length=64)
    category: str = Field(max_length=64)
    net: Decimal = Field(sa_column=_money())
    weight: Decimal = Field(sa_column=sa.Column(ExactDecimal(10, 4), nullable=False))
    locomotive: bool
    points: Decimal = Field(sa_column=_points())
    happened_at: datetime = Field(sa_column=_utc())
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class ContributionTotal(Table, table=True):
    """Running figures of one employee in one period, kept as events arrive."""

    __tablename__ = "contribution_total"

    period: str = Field(primary_key=True, max_length=7)
    employee_id: str = Field(primary_key=True, max_length=64)
    net_sales: Decimal = Field(default=Decimal("0"), sa_column=_money(default="0"))
    points: Decimal = Field(default=Decimal("0"), sa_column=_points())
    locomotive_sales: Decimal = Field(default=Decimal("0"), sa_column=_money(default="0"))
    locomotive_points: Decimal = Field(default=Decimal("0"), sa_column=_points())
    adjustment_points: Decimal = Field(default=Decimal("0"), sa_column=_points())
    lines: int = Field(default=0)
    complaints: int = Field(default=0)
    breaches: int = Field(default=0)
    csat_sum: int = Field(default=0)
    csat_count: int = Field(default=0)


class CategoryTotal(Table, table=True):
    __tablename__ = "category_total"

    period: str = Field(primary_key=True, max_length=7)
    employee_id: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=64)
    net_sales: Decimal = Field(default=Decimal("0"), sa_column=_money(default="0"))
    points: Decimal = Field(default=Decimal("0"), sa_column=_points())


# ----- quality, from the feedback service ------------------------------------------------------

class QualityCase(Table, table=True):
    """A feedback case as far as the complaint count goes: what it should count, and what it counts."""

    __tablename__ = "quality_case"

    case_id: str = Field(primary_key=True, max_length=64)
    kind: str | None = Field(default=None, max_length=16)
    employee_id: str | None = Field(default=None, max_length=64)
    facts_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    received_period: str | None = Field(default=None, max_length=7)
    outcome: str | None = Field(default=None, max_length=32)
    outcome_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    counted_employee_id: str | None = Field(default=None, max_length=64)
    counted_period: str | None = Field(default=None, max_length=7)


class QualityRating(Table, table=True):
    __tablename__ = "quality_rating"

    case_id: str = Field(primary_key=True, max_length=64)
    resolution_no: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    rating: int
    rated_at: datetime = Field(sa_column=_utc())
    employees: list = Field(default_factory=list, sa_column=_json())
    counted_period: str = Field(max_length=7)


class QualityBreach(Table, table=True):
    __tablename__ = "quality_breach"

    case_id: str = Field(primary_key=True, max_length=64)
    target: str = Field(primary_key=True, max_length=32)
    due_at: datetime = Field(sa_column=sa.Column(UTCDateTime, primary_key=True))
    employees: list = Field(default_factory=list, sa_column=_json())
    counted_period: str = Field(max_length=7)


# ----- rewards -----------------------------------------------------------------------------

class BonusPolicyVersion(Table, table=True):
    """Every version of the bonus policy; in force for a period: the latest effective_from <= it."""

    __tablename__ = "bonus_policy"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    effective_from: str = Field(max_length=7, index=True)
    currency: str = Field(max_length=3)
    rate_per_point: Decimal = Field(sa_column=sa.Column(ExactDecimal(12, 6), nullable=False))
    min_fulfilment_percent: Decimal = Field(sa_column=sa.Column(ExactDecimal(7, 2), nullable=False))
    accelerators: list = Field(default_factory=list, sa_column=_json())  # [{"above_percent", "multiplier"}]
    quality: dict = Field(default_factory=dict, sa_column=_json())
    cap: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class Gift(Table, table=True):
    __tablename__ = "gift"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    category: str = Field(max_length=64, index=True)
    value: Decimal = Field(sa_column=_money())
    currency: str = Field(max_length=3)
    active: bool = Field(default=True)
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class Award(Table, table=True):
    __tablename__ = "award"
    __table_args__ = (sa.Index("ix_award_granted", "granted_at", "id"),
                      sa.Index("ix_award_period_employee", "period", "employee_id"))

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    employee_id: str = Field(max_length=64)
    period: str = Field(max_length=7)
    kind: str = Field(max_length=16)  # cash | gift | recognition
    amount: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    gift_id: str | None = Field(default=None, max_length=36)
    gift_name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    title_ms: str | None = Field(default=None, max_length=200)
    citation: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    source: str = Field(max_length=16)  # period_close | manual
    granted_by: str = Field(sa_column=_actor())
    granted_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


metadata = Table.metadata
