"""Tables of the analytics service: read models kept from other services' events, and its own state.

Money is kept as integer minor units (``*_cents``-free names, ``BIGINT``): the aggregates are kept
by SQL increments (``col = col + :delta``), which must be exact on SQLite too, where a decimal is
text and ``+`` would turn it into a float. The API turns them back into decimal strings.

No personal data: customers are ids with their segment, manager and status; employees (staff, not
customers) keep the name the staff directory publishes for the leaderboard.

Three groups of tables:
- read models (``READ_MODELS``): a pure function of the event log, dropped and rebuilt by
  ``pelanggan analytics rebuild``;
- configuration (``cost_rate``), kept across rebuilds;
- the service's own history of what it published (``detected_trend``, ``risk_state``) and its job
  state, kept across rebuilds so that a rebuild publishes nothing twice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import shared.bus.tables  # (the common outbox and inbox tables every database has)
import shared.http.idempotency  # noqa: F401  (and the idempotency_key table)
from shared.db.base import service_base
from shared.db.types import ExactDecimal, UTCDateTime, utcnow

Table = service_base("analytics")


def _utc(nullable: bool = True) -> sa.Column:
    return sa.Column(UTCDateTime, nullable=nullable)


def _amount() -> int:
    return Field(default=0, sa_type=sa.BigInteger, nullable=False)


def _count() -> int:
    return Field(default=0, sa_type=sa.Integer, nullable=False)


class Measures(SQLModel):
    """The profitability measures every aggregate carries (amounts in minor units).

    revenue = sales net - returns net (both after the loyalty discount); cost_of_goods likewise;
    gross_margin = revenue - cost_of_goods; net_contribution = gross_margin - compensation - cost_to_serve.
    """

    revenue: int = _amount()
    cost_of_goods: int = _amount()
    gross_margin: int = _amount()
    discounts: int = _amount()
    compensation: int = _amount()
    cost_to_serve: int = _amount()
    net_contribution: int = _amount()
    sales_net: int = _amount()
    returns_net: int = _amount()
    orders: int = _count()
    returns: int = _count()


MEASURES: tuple[str, ...] = tuple(Measures.model_fields)
MONEY_MEASURES: tuple[str, ...] = tuple(m for m in MEASURES if m not in ("orders", "returns"))


# ----- customers, as far as analytics needs them (ids and segments only) -------------------------


class CustomerDim(Table, table=True):
    """A customer's segment, manager and status. ``status`` is ``unknown`` for a placeholder created by
    a fact that arrived before the customer's registration. Newest by ``revision`` (else ``state_at``)."""

    __tablename__ = "customer_dim"

    customer_id: str = Field(primary_key=True, max_length=64)
    kind: str | None = Field(default=None, max_length=16)
    segment: str | None = Field(default=None, max_length=64)
    manager_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="unknown", max_length=16)
    merged_into_id: str | None = Field(default=None, max_length=64)
    revision: int | None = Field(default=None)
    manager_revision: int | None = Field(default=None)
    state_at: datetime | None = Field(default=None, sa_column=_utc())
    registered_at: datetime | None = Field(default=None, sa_column=_utc())


# ----- facts: what each event contributed, so each contribution is applied once ----------------


class AppliedFact(Table, table=True):
    """One row per business fact applied (``paid:<order>``, ``return:<id>``, ``comp:<case>:<n>``, ...):
    a fact republished under another event id is still applied once."""

    __tablename__ = "applied_fact"

    ref: str = Field(primary_key=True, max_length=200)


class OrderFact(Table, table=True):
    """An order as far as CLV needs it: the purchase instant and value, minus returns and cancellation."""

    __tablename__ = "order_fact"
    __table_args__ = (sa.Index("ix_order_fact_account_paid", "account_id", "paid_at"),)

    order_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=64)
    account_id: str = Field(max_length=64)  # the customer at the end of its chain of merges
    sales_employee_id: str | None = Field(default=None, max_length=64)
    paid_at: datetime | None = Field(default=None, sa_column=_utc())
    paid_net: int = _amount()
    returned_net: int = _amount()
    cancelled: bool = Field(default=False)


class CaseFact(Table, table=True):
    """A case's contribution to the monthly case figures (counted in the month it was received)."""

    __tablename__ = "case_fact"

    case_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=64)
    kind: str | None = Field(default=None, max_length=16)
    received_month: str | None = Field(default=None, max_length=7)
    resolved: bool = Field(default=False)
    breached: bool = Field(default=False)


# ----- profitability aggregates ----------------------------------------------------------------


class CustomerProfit(Measures, Table, table=True):
    """A customer's all-time totals, with its segment and manager copied for filtered, sorted lists."""

    __tablename__ = "customer_profit"
    __table_args__ = (
        sa.Index("ix_customer_profit_net_contribution", "net_contribution", "customer_id"),
        sa.Index("ix_customer_profit_revenue", "revenue", "customer_id"),
        sa.Index("ix_customer_profit_gross_margin", "gross_margin", "customer_id"),
        sa.Index("ix_customer_profit_cost_to_serve", "cost_to_serve", "customer_id"),
        sa.Index("ix_customer_profit_segment", "segment", "net_contribution", "customer_id"),
        sa.Index("ix_customer_profit_manager", "manager_id", "net_contribution", "customer_id"),
    )

    customer_id: str = Field(primary_key=True, max_length=64)
    segment: str | None = Field(default=None, max_length=64)
    manager_id: str | None = Field(default=None, max_length=64)
    first_purchase_at: datetime | None = Field(default=None, sa_column=_utc())
    last_purchase_at: datetime | None = Field(default=None, sa_column=_utc())


class CustomerMonth(Measures, Table, table=True):
    __tablename__ = "customer_month"
    __table_args__ = (sa.Index("ix_customer_month_month", "month", "customer_id"),)

    customer_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)


class SegmentMonth(Measures, Table, table=True):
    """Per segment ("" = not known yet) and month: the sum of its customers' months."""

    __tablename__ = "segment_month"

    segment: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)


class ManagerMonth(Measures, Table, table=True):
    """Per permanent account manager ("" = none) and month: the sum of their customers' months."""

    __tablename__ = "manager_month"

    manager_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)


class CustomerActivityMonth(Table, table=True):
    """Activities that cost something to serve, counted (cost = count x the activity's rate)."""

    __tablename__ = "customer_activity_month"

    customer_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)
    activity: str = Field(primary_key=True, max_length=40)
    count: int = _count()


class CostRate(Table, table=True):
    """The unit cost of one activity (minor units); a change re-prices every aggregate."""

    __tablename__ = "cost_rate"

    activity: str = Field(primary_key=True, max_length=40)
    rate: int = _amount()
    updated_by: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))


# ----- demand ------------------------------------------------------------------------------------


class CustomerDemand(Table, table=True):
    __tablename__ = "customer_demand"

    customer_id: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=64)
    granularity: str = Field(primary_key=True, max_length=5)
    period: str = Field(primary_key=True, max_length=8)
    quantity: int = _count()
    net: int = _amount()


class SegmentDemand(Table, table=True):
    __tablename__ = "segment_demand"
    __table_args__ = (sa.Index("ix_segment_demand_granularity", "granularity", "segment", "category", "period"),)

    segment: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=64)
    granularity: str = Field(primary_key=True, max_length=5)
    period: str = Field(primary_key=True, max_length=8)
    quantity: int = _count()
    net: int = _amount()


# ----- cases -------------------------------------------------------------------------------------


class CaseMonth(Table, table=True):
    __tablename__ = "case_month"

    month: str = Field(primary_key=True, max_length=7)
    kind: str = Field(primary_key=True, max_length=16)
    received: int = _count()
    resolved: int = _count()
    breached: int = _count()


# ----- incentives: staff, product weights, the live leaderboard ------------------------------------


class EmployeeDim(Table, table=True):
    __tablename__ = "employee_dim"

    employee_id: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=300)
    role: str | None = Field(default=None, max_length=32)
    active: bool = Field(default=True)


class ProductWeight(Table, table=True):
    """A product's weight from ``effective_at`` until the next row (incentives' effective dating)."""

    __tablename__ = "product_weight"

    product_id: str = Field(primary_key=True, max_length=64)
    effective_at: datetime = Field(sa_column=sa.Column(UTCDateTime, primary_key=True))
    weight: str = Field(sa_column=sa.Column(ExactDecimal(12, 4), nullable=False))
    locomotive: bool = Field(default=False)


class SaleLine(Table, table=True):
    """A paid, returned or cancelled order line of an employee: the live leaderboard's facts."""

    __tablename__ = "sale_line"
    __table_args__ = (sa.Index("ix_sale_line_period", "period", "employee_id"),)

    ref: str = Field(primary_key=True, max_length=200)
    employee_id: str = Field(max_length=64)
    product_id: str = Field(max_length=64)
    period: str = Field(max_length=7)
    weighted_at: datetime = Field(sa_column=_utc(nullable=False))
    net: int = _amount()
    quantity: int = _count()


class PeriodResult(Table, table=True):
    """An employee's frozen figures of a closed period, as incentives published them."""

    __tablename__ = "period_result"

    period: str = Field(primary_key=True, max_length=7)
    employee_id: str = Field(primary_key=True, max_length=64)
    net_sales: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    weighted_points: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    bonus: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    rank: int | None = Field(default=None)
    closed_at: datetime = Field(sa_column=_utc(nullable=False))


# ----- derived by the detection job (read models too: rebuilt from the facts above) ---------------


class CustomerScore(Table, table=True):
    """RFM scores and group, BG/NBD and Gamma-Gamma predictions of one customer, as of ``computed_at``."""

    __tablename__ = "customer_score"
    __table_args__ = (sa.Index("ix_customer_score_group", "rfm_group", "customer_id"),)

    customer_id: str = Field(primary_key=True, max_length=64)
    recency_days: int = Field(default=0)
    frequency: int = Field(default=0)
    monetary: int = _amount()
    r: int = Field(default=0)
    f: int = Field(default=0)
    m: int = Field(default=0)
    rfm_group: str = Field(max_length=16)
    p_alive: float | None = Field(default=None)
    expected_purchases_12m: float | None = Field(default=None)
    expected_order_value: int | None = Field(default=None, sa_type=sa.BigInteger)
    predicted_value_12m: int | None = Field(default=None, sa_type=sa.BigInteger)
    historical_value: int = _amount()
    computed_at: datetime = Field(sa_column=_utc(nullable=False))


class ModelFit(Table, table=True):
    __tablename__ = "model_fit"

    name: str = Field(primary_key=True, max_length=40)
    params: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # JSON
    customers: int = Field(default=0)
    fitted_at: datetime = Field(sa_column=_utc(nullable=False))


class TrendStatus(Table, table=True):
    """The latest test of one series (segment x category x granularity x measure) by one method."""

    __tablename__ = "trend_status"

    segment: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=64)
    granularity: str = Field(primary_key=True, max_length=5)
    measure: str = Field(primary_key=True, max_length=16)
    method: str = Field(primary_key=True, max_length=20)
    direction: str = Field(max_length=20)
    statistic: float | None = Field(default=None)
    sen_slope: float | None = Field(default=None)
    p_value: float | None = Field(default=None)
    adjusted_p_value: float | None = Field(default=None)
    relative_change: float | None = Field(default=None)
    change_period: str | None = Field(default=None, max_length=8)
    series_start: str | None = Field(default=None, max_length=8)
    series_end: str | None = Field(default=None, max_length=8)
    computed_at: datetime = Field(sa_column=_utc(nullable=False))


# ----- the service's own history (kept across rebuilds) -------------------------------------------


class DetectedTrend(Table, table=True):
    """A trend published once as ``analytics.trend.detected`` (the unique id is the claim)."""

    __tablename__ = "detected_trend"

    trend_id: str = Field(primary_key=True, max_length=300)
    segment: str = Field(max_length=64)
    category: str = Field(max_length=64)
    granularity: str = Field(max_length=5)
    measure: str = Field(max_length=16)
    method: str = Field(max_length=20)
    direction: str = Field(max_length=20)
    statistic: float
    sen_slope: float
    p_value: float
    adjusted_p_value: float
    series_start: str = Field(max_length=8)
    series_end: str = Field(max_length=8)
    first_seen_at: datetime = Field(sa_column=_utc(nullable=False))


class RiskState(Table, table=True):
    """Whether a customer is flagged at risk; a move from unflagged to flagged publishes once."""

    __tablename__ = "risk_state"

    customer_id: str = Field(primary_key=True, max_length=64)
    flagged: bool = Field(default=False)
    reason: str | None = Field(default=None, max_length=20)
    since: datetime | None = Field(default=None, sa_column=_utc())
    episodes: int = Field(default=0)


class JobState(Table, table=True):
    """``dirty_at``: the first change since the job last ran (set by handlers only when unset)."""

    __tablename__ = "job_state"

    name: str = Field(primary_key=True, max_length=40)
    dirty_at: datetime | None = Field(default=None, sa_column=_utc())
    last_run_at: datetime | None = Field(default=None, sa_column=_utc())


metadata = Table.metadata

# Dropped and replayed by a rebuild; compared by the rebuild checksum.
READ_MODELS: tuple[type[SQLModel], ...] = (
    CustomerDim,
    AppliedFact,
    OrderFact,
    CaseFact,
    CustomerProfit,
    CustomerMonth,
    SegmentMonth,
    ManagerMonth,
    CustomerActivityMonth,
    CustomerDemand,
    SegmentDemand,
    CaseMonth,
    EmployeeDim,
    ProductWeight,
    SaleLine,
    PeriodResult,
    CustomerScore,
    ModelFit,
    TrendStatus,
)
# Derived by the detection job from the facts above at a moment in time (recency depends on "now"):
# rebuilt, but left out of the checksum that compares event-derived figures.
JOB_DERIVED: tuple[type[SQLModel], ...] = (CustomerScore, ModelFit, TrendStatus)
