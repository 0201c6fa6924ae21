"""Request and response models of the feedback API (Create / Update / Public / Page per entity).

Inputs use the shared strict types (``shared.http.inputs``): instants are ISO-8601 strings with an
offset, booleans JSON booleans, integers JSON integers, money a plain decimal string with at most
two decimals, dates ``YYYY-MM-DD``. Ids sent on to other services are letters, digits and a few
separators.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.events.contracts.feedback import (
    CaseChannel,
    CaseKind,
    CasePriority,
    CaseStatus,
    CompensationKind,
    ResolutionOutcome,
    ResponseKind,
    StandardKind,
)
from shared.events.contracts.incentives import EmployeeRole
from shared.events.types import DecimalString
from shared.http.inputs import Day, Input, Instant, MoneyInput, StrictBool
from shared.http.pagination import Page

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
ForeignId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=ID_PATTERN)]
CUSTOMER_ID_MAX = 36  # the customers service issues UUIDs and refuses longer ids
CustomerRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CUSTOMER_ID_MAX,
                                               pattern=ID_PATTERN)]
LocalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=36, pattern=ID_PATTERN)]
EmployeeId = ForeignId
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Markdown = Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Segment = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
StrictPositive = Annotated[int, Field(strict=True, ge=1)]

# ----- cases ----------------------------------------------------------------------------------

class CaseCreate(Input):
    kind: CaseKind
    customer_id: CustomerRef
    order_id: ForeignId | None = None
    line_nos: list[StrictPositive] = Field(default_factory=list, max_length=200,
                                           description="the order's lines a claim is about (needs order_id)")
    product_id: ForeignId | None = None
    channel: CaseChannel = Field(description="how it reached the company")
    subject: Subject
    body: LongText
    category_id: LocalId | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    priority: CasePriority | None = Field(default=None, description="omitted: set by the rule from kind and "
                                                                     "the customer's segment")
    employee_id: EmployeeId | None = Field(default=None, description="the employee the case is about, if any")
    assignee_id: EmployeeId | None = Field(default=None, description="who handles it (assigned at once)")
    received_at: Instant | None = Field(default=None, description="when it reached the company, for a case recorded "
                                                                  "afterwards (not in the future); default: now")

    @model_validator(mode="after")
    def _coherent(self) -> CaseCreate:
        if self.line_nos and self.order_id is None:
            raise ValueError("line_nos name lines of an order: give order_id too")
        if len(set(self.line_nos)) != len(self.line_nos):
            raise ValueError("each line may be named once")
        if self.kind == "claim" and self.order_id is None:
            raise ValueError("a claim is about an order: give order_id")
        self.tags = sorted(set(self.tags))
        return self


class AssignRequest(Input):
    assignee_id: EmployeeId


class ResponseCreate(Input):
    """A reply to the customer, an internal note, or what the customer said (a call, a letter)."""

    kind: ResponseKind
    body: LongText
    channel: CaseChannel | None = Field(default=None, description="required for replies and customer messages")
    cited_standard_id: LocalId | None = None
    cited_standard_version: StrictPositive | None = Field(default=None, description="default: the version in force")
    occurred_at: Instant | None = Field(default=None, description="when it happened, for a history imported "
                                                                "afterwards: not in the future, not before the case's "
                                                                "previous step; default: now")

    @model_validator(mode="after")
    def _channel_when_it_travels(self) -> ResponseCreate:
        if self.kind == "note" and self.channel is not None:
            raise ValueError("an internal note travels through no channel")
        if self.kind != "note" and self.channel is None:
            raise ValueError("a reply or a customer message needs the channel it went through")
        if self.cited_standard_version is not None and self.cited_standard_id is None:
            raise ValueError("cited_standard_version needs cited_standard_id")
        return self


class ResolveRequest(Input):
    outcome: ResolutionOutcome
    text: LongText = Field(description="the resolution as communicated to the customer")
    compensation: CompensationKind = "none"
    compensation_amount: MoneyInput | None = Field(default=None, description="required unless compensation is none")
    currency: Currency | None = Field(default=None, description="default: the service's currency")
    cited_standard_id: LocalId | None = None
    cited_standard_version: StrictPositive | None = None
    occurred_at: Instant | None = Field(default=None, description="when it happened, for a history imported "
                                                                "afterwards: not in the future, not before the case's "
                                                                "previous step; default: now")

    @model_validator(mode="after")
    def _amount_matches_the_kind(self) -> ResolveRequest:
        if self.compensation == "none":
            if self.compensation_amount not in (None, Decimal(0)):
                raise ValueError("no compensation has no amount")
        elif self.compensation_amount is None or self.compensation_amount <= 0:
            raise ValueError(f"a {self.compensation} needs a positive compensation_amount")
        if self.cited_standard_version is not None and self.cited_standard_id is None:
            raise ValueError("cited_standard_version needs cited_standard_id")
        return self


class RatingCreate(Input):
    rating: Annotated[int, Field(strict=True, ge=1, le=5)] = Field(description="CSAT, 1 (bad) to 5 (great)")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)] | None = None
    occurred_at: Instant | None = Field(default=None, description="when it happened, for a history imported "
                                                                "afterwards: not in the future, not before the case's "
                                                                "previous step; default: now")


class ClockPublic(BaseModel):
    target_seconds: int | None
    working_time: bool
    run: Literal["running", "paused", "stopped"]
    state: Literal["on_track", "at_risk", "breached", "met"]
    breached: bool
    due_at: datetime | None
    at_risk_at: datetime | None
    elapsed_seconds: int
    remaining_seconds: int | None
    held_seconds: int


class SlaPublic(BaseModel):
    state: Literal["on_track", "at_risk", "breached"]
    policy_version: int
    escalation_level: int
    first_response: ClockPublic
    resolution: ClockPublic
    calendar_time_zone: str


class CasePublic(BaseModel):
    id: str
    number: str
    kind: CaseKind
    status: CaseStatus
    customer_id: str
    original_customer_id: str
    order_id: str | None
    line_nos: list[int]
    product_id: str | None
    channel: CaseChannel
    subject: str
    body: str
    category_id: str | None
    category_path: list[str]
    tags: list[str]
    priority: CasePriority
    priority_by_rule: bool
    assignee_id: str | None
    assignee_verified: bool | None = Field(description="None without assignee; False while the staff directory "
                                                       "replica has not heard of the employee")
    employee_id: str | None
    employee_verified: bool | None
    received_at: datetime
    created_by: str
    updated_at: datetime
    first_response_at: datetime | None
    resolution_no: int
    resolved_at: datetime | None
    closed_at: datetime | None
    rated: bool
    sla: SlaPublic
    allowed_commands: list[str]


CasesPage = Page[CasePublic]


class ActivityPublic(BaseModel):
    kind: str
    actor: str
    at: datetime
    from_status: str | None
    to_status: str | None
    details: dict[str, Any]


class ResponsePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: ResponseKind
    channel: CaseChannel | None
    body: str
    author_id: str
    at: datetime
    first_response: bool
    cited_standard_id: str | None
    cited_standard_version: int | None


class ResolutionPublic(BaseModel):
    resolution_no: int
    outcome: ResolutionOutcome
    text: str
    compensation: CompensationKind
    compensation_amount: DecimalString
    currency: str
    cited_standard_id: str | None
    cited_standard_version: int | None
    resolved_by: str
    resolved_at: datetime
    first_response_working_seconds: int | None = Field(description="in the first-response target's measure")
    resolution_working_seconds: int = Field(description="in the resolution target's measure, waits excluded")
    waited_seconds: int = Field(description="time spent waiting on the customer, in the same measure")
    first_response_breached: bool
    resolution_breached: bool
    rating: int | None
    rating_comment: str | None
    rated_by: str | None
    rated_at: datetime | None


class CaseDetail(CasePublic):
    timeline: list[ActivityPublic]
    responses: list[ResponsePublic]
    resolutions: list[ResolutionPublic]


# ----- categories -------------------------------------------------------------------------------

class CategoryCreate(Input):
    name: Name
    parent_id: LocalId | None = None


class CategoryUpdate(Input):
    """Rename (``name``), move (``parent_id``; null moves it to the root) or retire (``retired: true``)."""

    name: Name | None = None
    parent_id: LocalId | None = None
    retired: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> CategoryUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in ("name", "retired"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CategoryPublic(BaseModel):
    id: str
    name: str
    parent_id: str | None
    path: list[str]
    active: bool
    retired_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


# ----- SLA policy and calendar ------------------------------------------------------------------

class TargetIn(Input):
    seconds: Annotated[int, Field(strict=True, ge=1, le=366 * 86_400)]
    working_time: StrictBool = True


class PolicyEntryIn(Input):
    kind: CaseKind | None = Field(default=None, description="null: any kind without an entry of its own")
    priority: CasePriority
    first_response: TargetIn | None = Field(description="null: no first-response target")
    resolution: TargetIn | None = Field(description="null: no resolution target")


class SlaPolicyUpdate(Input):
    targets: list[PolicyEntryIn] = Field(min_length=1, max_length=40)
    raise_priority_segments: list[Segment] = Field(default_factory=list, max_length=50)


class TargetPublic(BaseModel):
    seconds: int
    working_time: bool


class PolicyEntryPublic(BaseModel):
    kind: CaseKind | None
    priority: CasePriority
    first_response: TargetPublic | None
    resolution: TargetPublic | None


class SlaPolicyPublic(BaseModel):
    version: int
    targets: list[PolicyEntryPublic]
    raise_priority_segments: list[str]
    created_by: str | None
    created_at: datetime | None


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")]


class WindowIn(Input):
    start: HHMM
    end: HHMM


class HolidayIn(Input):
    date: Day
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None


class CalendarUpdate(Input):
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="IANA time zone, e.g. Asia/Jakarta")
    week: dict[Weekday, list[WindowIn]] = Field(description="working windows per weekday; missing days are off")
    holidays: list[HolidayIn] = Field(default_factory=list, max_length=2000, description="company holidays")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")] | None = Field(
        default=None, description="public holidays of this country (ISO 3166 code) count as holidays too")
    subdivision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,10}$")] | None = None

    @field_validator("week")
    @classmethod
    def _bounded(cls, week: dict[str, list[WindowIn]]) -> dict[str, list[WindowIn]]:
        if any(len(windows) > 12 for windows in week.values()):
            raise ValueError("at most 12 windows a day")
        return week


class WindowPublic(BaseModel):
    start: str
    end: str


class HolidayPublic(BaseModel):
    date: date
    name: str | None


class CalendarPublic(BaseModel):
    version: int
    time_zone: str
    week: dict[str, list[WindowPublic]]
    holidays: list[HolidayPublic]
    country: str | None
    subdivision: str | None
    upcoming_holidays: list[HolidayPublic] = Field(description="the next holidays, company and public, "
                                                               "within a year")
    created_by: str | None
    created_at: datetime | None


# ----- stats ---------------------------------------------------------------------------------------

class Percentiles(BaseModel):
    count: int
    median_hours: float | None
    p90_hours: float | None


class BreachRate(BaseModel):
    kind: str
    priority: str
    cases: int
    breached: int
    rate: float


class CompensationTotal(BaseModel):
    compensation: str
    currency: str
    count: int
    amount: DecimalString


class CaseStats(BaseModel):
    received_from: datetime
    received_to: datetime
    cases: int
    by_kind: dict[str, int]
    by_category: dict[str, int]
    by_product: dict[str, int]
    by_channel: dict[str, int]
    by_status: dict[str, int]
    first_response: Percentiles
    resolution: Percentiles
    breach_rates: list[BreachRate]
    csat_average: float | None
    csat_count: int
    compensation: list[CompensationTotal]
    percentile_method: str


# ----- standards --------------------------------------------------------------------------------

class StandardCreate(Input):
    kind: StandardKind
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    owner_id: EmployeeId = Field(description="the employee responsible for the document")
    required_roles: list[EmployeeRole] = Field(default_factory=list, max_length=4,
                                               description="staff-directory roles that must acknowledge it")
    body: Markdown = Field(description="the first version, Markdown")
    effective_from: Instant | None = Field(default=None, description="default: now")


class StandardVersionCreate(Input):
    body: Markdown
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = None
    change_note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None = None
    effective_from: Instant | None = Field(default=None, description="default: now")


class StandardVersionPublic(BaseModel):
    standard_id: str
    version: int
    title: str
    body: str
    change_note: str | None
    effective_from: datetime
    published_by: str
    published_at: datetime


class StandardPublic(BaseModel):
    id: str
    kind: StandardKind
    title: str
    owner_id: str
    required_roles: list[str]
    latest_version: int
    version_in_force: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime


StandardsPage = Page[StandardPublic]


class StandardDetail(StandardPublic):
    current: StandardVersionPublic | None = Field(description="the version in force")
    versions: list[int]


class AcknowledgementCreate(Input):
    employee_id: EmployeeId | None = Field(default=None, description="default: the caller (token subject)")
    version: StrictPositive | None = Field(default=None, description="if given, must be the version in force")


class AcknowledgementPublic(BaseModel):
    standard_id: str
    version: int
    employee_id: str
    employee_verified: bool
    acknowledged_at: datetime
    recorded_by: str


class EmployeeRef(BaseModel):
    employee_id: str
    name: str | None
    role: str | None
    verified: bool


class AcknowledgedBy(EmployeeRef):
    acknowledged_at: datetime


class AcknowledgementStatus(BaseModel):
    standard_id: str
    version: int | None
    required_roles: list[str]
    acknowledged: list[AcknowledgedBy]
    pending: list[EmployeeRef]


class CitationPublic(BaseModel):
    case_id: str
    case_number: str
    kind: CaseKind
    status: CaseStatus
    cited_in: Literal["response", "resolution"]
    cited_version: int | None
    cited_at: datetime
    reference_id: str = Field(description="the response id, or the resolution number")


CitationsPage = Page[CitationPublic]


class ResponseResult(BaseModel):
    response: ResponsePublic
    case: CasePublic


class ResolutionResult(BaseModel):
    resolution: ResolutionPublic
    case: CasePublic
