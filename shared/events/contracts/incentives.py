"""Events published by the incentives service on topic ``incentives.events``.

Kafka key: the employee id for employee and award events, the product id for weights, the period
(``YYYY-MM``) for a period's close. Employees are the company's staff, not customers: their name
and work e-mail travel in the directory events so that other services can show who is who.

Periods are calendar months in the company's time zone (``YYYY-MM``); ``effective_at`` instants
are where such a date begins in that time zone, so consumers need no calendar of their own.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.registry import EventContract, contract
from shared.events.types import DecimalString, UtcDatetime

EmployeeRole = Literal["sales", "account_manager", "support", "head"]
AwardKind = Literal["cash", "gift", "recognition"]
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class EmployeeSnapshot(EventContract):
    """An employee as the staff directory holds them after the change."""

    employee_id: str
    name: str
    role: EmployeeRole
    team: str | None
    email: str | None
    hired_on: date
    left_on: date | None
    active: bool
    # The employee's change count (1 when hired, +1 under the row lock with every change):
    # replicas keep the highest, whatever order the events reach them in.
    revision: int | None = None


@contract("incentives.employee.hired", 1)
class EmployeeHiredV1(EmployeeSnapshot):
    pass


@contract("incentives.employee.updated", 1)
class EmployeeUpdatedV1(EmployeeSnapshot):
    changed_fields: list[str]


@contract("incentives.employee.left", 1)
class EmployeeLeftV1(EmployeeSnapshot):
    """The employee left (``active`` False, ``left_on`` set): keep their history, assign no new work."""


@contract("incentives.product.weight_set", 1)
class ProductWeightSetV1(EventContract):
    """A product's weight (its importance for the company's financial stability; 1 is neutral) and
    locomotive flag, in force from ``effective_from`` (a date in the company's time zone, beginning at
    ``effective_at``) until the next change. Never retroactive: a sale counts with the weight in force
    when it was paid."""

    product_id: str
    category: str | None
    weight: DecimalString
    locomotive: bool
    effective_from: date
    effective_at: UtcDatetime
    previous_weight: DecimalString | None
    previous_locomotive: bool | None
    set_by: str
    set_at: UtcDatetime


class EmployeePeriodResult(BaseModel):
    """One employee's frozen figures of a closed period."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    employee_id: str
    net_sales: DecimalString
    weighted_points: DecimalString
    locomotive_sales: DecimalString
    personal_target_points: DecimalString | None
    fulfilment_percent: DecimalString | None
    bonus: DecimalString
    rank: int | None
    # Optional additions: late figures of earlier closed periods counted here, and the quality measures.
    adjustment_points: DecimalString | None = None
    complaints: int | None = None
    sla_breaches: int | None = None
    csat_average: DecimalString | None = None


@contract("incentives.period.closed", 1)
class PeriodClosedV1(EventContract):
    """A month's figures are frozen and bonuses computed; late events count in the next open period."""

    period: str = Field(pattern=PERIOD_PATTERN)
    currency: str
    company_target_points: DecimalString | None
    company_points: DecimalString
    bonus_policy_version: int | None
    best_employee_id: str | None
    employees: list[EmployeePeriodResult]
    closed_by: str
    closed_at: UtcDatetime


@contract("incentives.award.granted", 1)
class AwardGrantedV1(EventContract):
    """A material award (cash, or a gift from the catalogue) or a non-material one (recognition)."""

    award_id: str
    employee_id: str
    period: str = Field(pattern=PERIOD_PATTERN)
    kind: AwardKind
    amount: DecimalString | None
    currency: str | None
    gift_id: str | None
    gift_name: str | None
    title: str | None
    citation: str | None
    source: Literal["period_close", "manual"]
    granted_by: str
    granted_at: UtcDatetime
