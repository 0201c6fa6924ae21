"""Closing a period: bonuses from the policy in force, the best employee's recognition, frozen figures.

Exactly once, whatever the number of replicas: the close takes the period's row ``FOR UPDATE``
and flips it from open to closed in the same transaction that writes the awards and the outbox
rows, so a second close (from this or another instance) waits for the first and then finds the
period closed (409). Every write to the period holds the same row ``FOR SHARE``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import PeriodNotClosable
from services.incentives.models import Award, PeriodState
from services.incentives.rules.leaderboard import BEST_EMPLOYEE_TITLE, BEST_EMPLOYEE_TITLE_MS
from services.incentives.schemas import ContributionsReport
from services.incentives.use_cases.awards import insert_awards
from services.incentives.use_cases.common import lock_period, parse_period
from services.incentives.use_cases.contributions import build_report
from shared.bus.outbox import add_event
from shared.events.contracts import incentives as events
from shared.http.errors import Conflict


async def close_period(session: AsyncSession, *, period_text: str, actor: str, now: datetime, zone: ZoneInfo,
                       currency: str) -> tuple[PeriodState, list[Award]]:
    period = parse_period(period_text)
    ends_at = period.ends_at(zone)
    if now < ends_at:
        raise PeriodNotClosable(f"period {period} is still running until {ends_at.isoformat()}: a month closes "
                                f"after its last day", period=str(period), closable_from=ends_at.isoformat())
    state = await lock_period(session, period, exclusive=True)
    if state.status == "closed":
        closed_at = state.closed_at.isoformat() if state.closed_at else "?"
        raise Conflict(f"period {period} was already closed at {closed_at} by {state.closed_by}; closing twice is "
                       f"refused", period=str(period), period_status="closed", allowed="reads only")
    report = await build_report(session, period=period, zone=zone, currency=currency, state=state)
    awards = [Award(employee_id=row.employee_id, period=str(period), kind="cash", amount=row.bonus.amount,
                    currency=currency, citation=f"Bonus for {period} under bonus policy v{report.bonus_policy_version}",
                    source="period_close", granted_by=actor, granted_at=now)
              for row in report.employees if row.bonus is not None and row.bonus.amount > Decimal("0")]
    best = next((row for row in report.employees if row.employee_id == report.best_employee_id), None)
    if best is not None:
        share = f", {best.fulfilment_percent:f} % of the personal plan" if best.fulfilment_percent is not None else ""
        awards.append(Award(
            employee_id=best.employee_id, period=str(period), kind="recognition", title=BEST_EMPLOYEE_TITLE,
            title_ms=BEST_EMPLOYEE_TITLE_MS,
            citation=f"First on the {period} leaderboard with {best.weighted_points:f} weighted points{share}.",
            source="period_close", granted_by=actor, granted_at=now))
    frozen = report.model_copy(update={"status": "closed", "closed_at": now})
    state.status, state.closed_at, state.closed_by = "closed", now, actor
    state.bonus_policy_version, state.best_employee_id = report.bonus_policy_version, report.best_employee_id
    state.report = frozen.model_dump(mode="json")
    session.add(state)
    await session.flush()
    await insert_awards(session, awards)
    add_event(session, _closed_event(frozen, actor=actor, now=now), aggregate_id=str(period), occurred_at=now)
    return state, awards


def _closed_event(report: ContributionsReport, *, actor: str, now: datetime) -> events.PeriodClosedV1:
    return events.PeriodClosedV1(
        period=report.period, currency=report.currency, company_target_points=report.company_target_points,
        company_points=report.company_points, bonus_policy_version=report.bonus_policy_version,
        best_employee_id=report.best_employee_id, closed_by=actor, closed_at=now,
        employees=[events.EmployeePeriodResult(
            employee_id=row.employee_id, net_sales=row.net_sales, weighted_points=row.weighted_points,
            locomotive_sales=row.locomotive_sales, personal_target_points=row.personal_target_points,
            fulfilment_percent=row.fulfilment_percent, bonus=row.bonus.amount if row.bonus else Decimal("0.00"),
            rank=row.rank, adjustment_points=row.adjustment_points, complaints=row.quality.complaints,
            sla_breaches=row.quality.sla_breaches, csat_average=row.quality.csat_average)
            for row in report.employees])
