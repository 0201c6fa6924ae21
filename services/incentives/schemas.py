"""Request and response models of the incentives API (Create / Update / Public / Page per entity).

Inputs are strict: money, points, weights and percentages are plain decimal strings ("1500000.00",
never 1e6 nor a JSON number), dates are ``YYYY-MM-DD`` strings, booleans JSON booleans, periods
``YYYY-MM``. Outputs send every decimal as a string.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from services.incentives.rules.periods import PERIOD_PATTERN
from shared.events.types import DecimalString
from shared.http.inputs import Day, Input, decimal_input
from shared.http.pagination import Page

EmployeeRole = Literal["sales", "account_manager", "support", "head"]
AwardKind = Literal["cash", "gift", "recognition"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"


# Plain decimal strings only (the shared strict input type), with the digits each quantity needs.
Money = decimal_input(decimals=2, integer_digits=15, example="1500000.00")
Points = decimal_input(decimals=2, integer_digits=15, example="1500000.00")
Weight = decimal_input(decimals=4, integer_digits=4, example="1.5")
Percent = decimal_input(decimals=2, integer_digits=4, example="100")
Multiplier = decimal_input(decimals=4, integer_digits=3, example="1.5")
Rate = decimal_input(decimals=6, integer_digits=6, example="0.01")
Rating = Annotated[decimal_input(decimals=2, integer_digits=1, example="4"), Field(ge=1, le=5)]
PeriodText = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Team = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Category = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _nothing_null(model: BaseModel, nullable: frozenset[str] = frozenset()) -> None:
    if not model.model_fields_set:
        raise ValueError("nothing to change")
    for name in model.model_fields_set - nullable:
        if getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null")


# ----- employees ------------------------------------------------------------------------------

class EmployeeCreate(Input):
    id: EntityId | None = Field(default=None, description="an id of your own (e.g. the HR number); else a UUID")
    name: Name
    role: EmployeeRole
    team: Team | None = None
    email: Email | None = None
    hired_on: Day
    left_on: Day | None = None
    active: StrictBool = True


class EmployeeUpdate(Input):
    """Only the fields present change; ``left_on`` (not in the future) or ``active: false`` records a departure."""

    name: Name | None = None
    role: EmployeeRole | None = None
    team: Team | None = None
    email: Email | None = None
    hired_on: Day | None = None
    left_on: Day | None = None
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> EmployeeUpdate:
        _nothing_null(self, frozenset({"team", "email", "left_on"}))
        return self


class EmployeePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: str
    team: str | None
    email: str | None
    hired_on: date
    left_on: date | None
    active: bool
    revision: int
    created_at: datetime
    updated_at: datetime


EmployeesPage = Page[EmployeePublic]


# ----- products and weights -----------------------------------------------------------------

class WeightSet(Input):
    weight: Weight = Field(description="positive; 1 is neutral")
    locomotive: StrictBool = False
    effective_from: Day | None = Field(default=None, description=(
        "a date in the company's time zone; default tomorrow (never retroactive). An earlier date is accepted "
        "only while no sale of the product has been counted since that date"))


class WeightPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: str
    weight: DecimalString
    locomotive: bool
    effective_from: date | None
    effective_at: datetime | None
    set_by: str | None = None
    set_at: datetime | None = None


class ProductPublic(BaseModel):
    product_id: str
    sku: str
    name: str
    category: str
    active: bool
    weight: DecimalString
    locomotive: bool
    weight_effective_from: date | None
    next_change: WeightPublic | None


ProductsPage = Page[ProductPublic]


# ----- plans ----------------------------------------------------------------------------------

CategoryTargets = Annotated[dict[Category, Points], Field(max_length=100)]


class EmployeeTarget(Input):
    employee_id: EntityId
    target_points: Points
    category_targets: CategoryTargets = Field(default_factory=dict)


class PlanPut(Input):
    company_target_points: Points | None = None
    company_category_targets: CategoryTargets = Field(default_factory=dict)
    employees: list[EmployeeTarget] = Field(default_factory=list, max_length=2000)


class EmployeeTargetPublic(BaseModel):
    employee_id: str
    target_points: DecimalString
    category_targets: dict[str, DecimalString]


class PlanPublic(BaseModel):
    period: str
    status: str
    company_target_points: DecimalString | None
    company_category_targets: dict[str, DecimalString]
    employees: list[EmployeeTargetPublic]
    revision: int
    updated_by: str | None
    updated_at: datetime | None


# ----- contributions and the leaderboard --------------------------------------------------------

class CategoryFigures(BaseModel):
    category: str
    net_sales: DecimalString
    weighted_points: DecimalString
    target_points: DecimalString | None
    fulfilment_percent: DecimalString | None


class Quality(BaseModel):
    complaints: int
    sla_breaches: int
    csat_average: DecimalString | None
    csat_ratings: int


class BonusFigures(BaseModel):
    eligible: bool
    reason: str | None
    accelerated_points: DecimalString
    gross: DecimalString
    quality_multiplier: DecimalString
    uncapped: DecimalString
    capped: bool
    amount: DecimalString


class EmployeeContribution(BaseModel):
    employee_id: str
    name: str | None
    in_directory: bool
    net_sales: DecimalString
    weighted_points: DecimalString
    locomotive_sales: DecimalString
    locomotive_points: DecimalString
    adjustment_points: DecimalString = Field(description="points of late events of closed periods counted here")
    lines: int
    share_of_company_plan_percent: DecimalString | None
    personal_target_points: DecimalString | None
    fulfilment_percent: DecimalString | None
    categories: list[CategoryFigures]
    quality: Quality
    bonus: BonusFigures | None = Field(description="final once the period is closed, projected before; "
                                                   "None without a bonus policy")
    rank: int
    decided_by: str | None = Field(description="the measure that placed this employee below the one above")
    eligible_for_recognition: bool
    hired_on: date | None


class ContributionsReport(BaseModel):
    period: str
    status: str
    currency: str
    company_target_points: DecimalString | None
    company_points: DecimalString
    company_fulfilment_percent: DecimalString | None
    bonus_policy_version: int | None
    best_employee_id: str | None
    closed_at: datetime | None
    employees: list[EmployeeContribution]


class LeaderboardEntry(BaseModel):
    rank: int
    employee_id: str
    name: str | None
    weighted_points: DecimalString
    complaints: int
    sla_breaches: int
    csat_average: DecimalString | None
    hired_on: date | None
    fulfilment_percent: DecimalString | None
    eligible: bool
    decided_by: str | None = Field(description="the measure that placed this entry below the one above it")


class Leaderboard(BaseModel):
    period: str
    status: str
    order: list[str] = Field(description="the ranking measures in order, each with its direction")
    best_employee_id: str | None
    entries: list[LeaderboardEntry]


class ContributionLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    period: str
    natural_period: str
    adjustment: bool
    employee_id: str
    order_id: str
    kind: str
    ref: str
    line_no: int
    product_id: str
    category: str
    net: DecimalString
    weight: DecimalString
    locomotive: bool
    points: DecimalString
    happened_at: datetime
    recorded_at: datetime


ContributionLinesPage = Page[ContributionLinePublic]


# ----- bonus policy ----------------------------------------------------------------------------

class AcceleratorIn(Input):
    above_percent: Percent
    multiplier: Multiplier


class QualityIn(Input):
    complaint_penalty_percent: Percent = Decimal("5")
    breach_penalty_percent: Percent = Decimal("2")
    csat_neutral: Rating = Decimal("4")
    csat_step_percent: Percent = Decimal("5")
    floor_percent: Percent = Decimal("50")
    ceiling_percent: Percent = Decimal("110")


class BonusPolicyPut(Input):
    effective_from: PeriodText = Field(description="the first period the version applies to (YYYY-MM)")
    rate_per_point: Rate
    min_fulfilment_percent: Percent = Decimal("0")
    accelerators: list[AcceleratorIn] = Field(default_factory=list, max_length=10)
    quality: QualityIn = Field(default_factory=QualityIn)
    cap: Money | None = None


class AcceleratorPublic(BaseModel):
    above_percent: DecimalString
    multiplier: DecimalString


class QualityPublic(BaseModel):
    complaint_penalty_percent: DecimalString
    breach_penalty_percent: DecimalString
    csat_neutral: DecimalString
    csat_step_percent: DecimalString
    floor_percent: DecimalString
    ceiling_percent: DecimalString


class BonusPolicyPublic(BaseModel):
    version: int
    effective_from: str
    currency: str
    rate_per_point: DecimalString
    min_fulfilment_percent: DecimalString
    accelerators: list[AcceleratorPublic]
    quality: QualityPublic
    cap: DecimalString | None
    created_by: str
    created_at: datetime


# ----- gifts and awards -------------------------------------------------------------------------

class GiftCreate(Input):
    name: Name
    description: Text | None = None
    category: Category
    value: Money
    active: StrictBool = True


class GiftUpdate(Input):
    name: Name | None = None
    description: Text | None = None
    category: Category | None = None
    value: Money | None = None
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> GiftUpdate:
        _nothing_null(self, frozenset({"description"}))
        return self


class GiftPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    category: str
    value: DecimalString
    currency: str
    active: bool
    created_at: datetime
    updated_at: datetime


GiftsPage = Page[GiftPublic]


class AwardCreate(Input):
    employee_id: EntityId
    period: PeriodText
    kind: AwardKind
    amount: Money | None = Field(default=None, description="cash awards only")
    gift_id: EntityId | None = Field(default=None, description="gift awards only")
    title: Title | None = Field(default=None, description="recognitions only")
    citation: Text | None = Field(default=None, description="recognitions (required) and others (optional)")

    @model_validator(mode="after")
    def _fits_the_kind(self) -> AwardCreate:
        wanted = {"cash": {"amount"}, "gift": {"gift_id"}, "recognition": {"title", "citation"}}[self.kind]
        for name in wanted:
            if getattr(self, name) is None:
                raise ValueError(f"a {self.kind} award needs {name}")
        for name in {"amount", "gift_id", "title"} - wanted:
            if getattr(self, name) is not None:
                raise ValueError(f"a {self.kind} award has no {name}")
        if self.kind == "cash" and self.amount is not None and self.amount <= 0:
            raise ValueError("a cash award is a positive amount")
        return self


class AwardPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    employee_id: str
    period: str
    kind: str
    amount: DecimalString | None
    currency: str | None
    gift_id: str | None
    gift_name: str | None
    title: str | None
    title_ms: str | None
    citation: str | None
    source: str
    granted_by: str
    granted_at: datetime


AwardsPage = Page[AwardPublic]


class PeriodClosePublic(BaseModel):
    period: str
    status: str
    closed_at: datetime
    closed_by: str
    bonus_policy_version: int | None
    best_employee_id: str | None
    awards: list[AwardPublic]
