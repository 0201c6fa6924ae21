"""Request and response models of the analytics API. Money is a decimal string in the reporting currency."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from services.analytics.activities import ACTIVITIES
from shared.events.types import DecimalString
from shared.http.inputs import Input, MoneyInput

Money = DecimalString
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
SortMeasure = Literal[
    "net_contribution",
    "revenue",
    "cost_of_goods",
    "gross_margin",
    "discounts",
    "compensation",
    "cost_to_serve",
    "sales_net",
    "returns_net",
    "orders",
    "returns",
    "aov",
    "returns_rate",
]
Activity = Literal[ACTIVITIES]  # type: ignore[valid-type]


class MeasuresPublic(BaseModel):
    revenue: Money = Field(description="sales net of loyalty discounts, minus returns")
    cost_of_goods: Money
    gross_margin: Money = Field(description="revenue - cost of goods")
    discounts: Money = Field(description="loyalty discounts given (net of returned ones)")
    compensation: Money = Field(description="compensation paid on resolved cases")
    cost_to_serve: Money = Field(description="sum of activity counts x unit costs")
    net_contribution: Money = Field(description="gross margin - compensation - cost to serve")
    sales_net: Money
    returns_net: Money
    orders: int = Field(description="paid orders minus cancelled paid orders")
    returns: int
    aov: Money | None = Field(description="average order value: sales net / orders")
    returns_rate: float | None = Field(description="returns net / sales net")


class MonthPublic(MeasuresPublic):
    month: str


class CustomerProfitPublic(MeasuresPublic):
    customer_id: str
    segment: str | None
    manager_id: str | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    tenure_days: int | None = Field(description="days since the first purchase")


class CustomerProfitPage(BaseModel):
    items: list[CustomerProfitPublic]
    next_cursor: str | None = None


class SeriesTrendPublic(BaseModel):
    slope_per_month: Money
    direction: Literal["improving", "worsening", "stable", "insufficient_data"]
    p_value: float | None
    months: int


class CostLinePublic(BaseModel):
    activity: str
    count: int
    rate: Money
    cost: Money


class ScorePublic(BaseModel):
    customer_id: str
    recency_days: int
    frequency: int
    monetary: Money
    r: int
    f: int
    m: int
    rfm_group: str
    p_alive: float | None
    expected_purchases_12m: float | None
    expected_order_value: Money | None
    predicted_value_12m: Money | None
    historical_value: Money
    computed_at: datetime


class CustomerDetailPublic(CustomerProfitPublic):
    requested_id: str = Field(description="the id asked for; figures of a merged customer are its survivor's")
    status: str
    months: list[MonthPublic]
    net_contribution_trend: SeriesTrendPublic
    cost_to_serve_by_activity: list[CostLinePublic]
    score: ScorePublic | None


class GroupTotalsPublic(MeasuresPublic):
    key: str | None = Field(description="the segment or manager id (null: not known)")
    months: list[MonthPublic]


class GroupsPublic(BaseModel):
    items: list[GroupTotalsPublic]


class CohortPublic(BaseModel):
    cohort: str = Field(description="month of first purchase")
    customers: int
    retention: list[float] = Field(description="share of the cohort buying in month 0, 1, 2, ... after")
    revenue: list[Money] = Field(description="the cohort's revenue in month 0, 1, 2, ... after")


class CohortsPublic(BaseModel):
    cohorts: list[CohortPublic]


class RfmGroupPublic(BaseModel):
    group: str
    customers: int
    historical_value: Money


class RfmPublic(BaseModel):
    groups: list[RfmGroupPublic]
    items: list[ScorePublic]
    next_cursor: str | None = None
    computed_at: datetime | None


class ClvPublic(BaseModel):
    model: dict[str, float] | None = Field(description="BG/NBD r, alpha, a, b (weeks) and Gamma-Gamma p, q, gamma")
    fitted_at: datetime | None
    horizon_months: int = 12
    discounting: Literal["none"] = "none"
    items: list[ScorePublic]
    next_cursor: str | None = None


class TrendTestPublic(BaseModel):
    method: str
    direction: str
    statistic: float | None
    sen_slope: float | None
    p_value: float | None
    adjusted_p_value: float | None
    relative_change: float | None
    change_period: str | None


class TrendSeriesPublic(BaseModel):
    segment: str
    category: str
    quantity: list[int]
    net_revenue: list[Money]
    tests: dict[str, list[TrendTestPublic]] = Field(description="by measure: quantity, net_revenue")


class TrendsPublic(BaseModel):
    granularity: Literal["week", "month"]
    periods: list[str]
    series: list[TrendSeriesPublic]
    computed_at: datetime | None


class DetectedTrendPublic(BaseModel):
    trend_id: str
    segment: str
    category: str
    granularity: str
    measure: str
    method: str
    direction: str
    statistic: float
    sen_slope: float
    p_value: float
    adjusted_p_value: float
    series_start: str
    series_end: str
    first_seen_at: datetime


class DetectedTrendsPage(BaseModel):
    items: list[DetectedTrendPublic]
    next_cursor: str | None = None


class CostRatePublic(BaseModel):
    activity: str
    rate: Money
    updated_by: str | None
    updated_at: datetime


class CostRatesPublic(BaseModel):
    currency: str
    rates: list[CostRatePublic]


class CostRatesUpdate(Input):
    """The unit cost of each named activity, as a plain decimal string (others stay as they are)."""

    rates: dict[Activity, MoneyInput] = Field(min_length=1)

    def decimals(self) -> dict[str, Decimal]:
        return dict(self.rates)


class CaseMonthPublic(BaseModel):
    month: str
    received: int
    resolved: int
    breached: int
    breach_rate: float | None = Field(description="breached / received, by month of receipt")
    by_kind: dict[str, int]


class CasesPublic(BaseModel):
    months: list[CaseMonthPublic]


class LeaderPublic(BaseModel):
    rank: int
    employee_id: str
    name: str | None
    net_sales: Money
    weighted_points: Money
    locomotive_sales: Money


class ClosedResultPublic(BaseModel):
    rank: int | None
    employee_id: str
    name: str | None
    net_sales: str
    weighted_points: str
    bonus: str


class LeaderboardPublic(BaseModel):
    period: str
    rule: str
    leaders: list[LeaderPublic]
    last_closed_period: str | None
    last_closed: list[ClosedResultPublic]
