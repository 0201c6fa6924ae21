"""Quality measures from the feedback service's events, kept per employee and period.

- **Complaints** attributed to an employee: cases of kind complaint or claim whose ``employee_id``
  is the employee, counted in the period the case was received. A case whose latest resolution
  is ``rejected`` (unfounded) does not count; reopening it counts it again. A later change of
  attribution moves the count. Each case's count is kept as "what it should count" and "what it
  counts", and only the difference moves the totals, so redelivery and replays change nothing.
- **SLA breaches** on an employee's cases: each ``feedback.sla.breached`` (once per case, target and
  due instant) counts for the case's assignee and for its attributed employee (once for someone
  who is both), in the period of the breach.
- **CSAT**: each rating of a resolution counts for the same people, in the period it was given;
  a new rating of the same resolution replaces the earlier one.
A change that belongs to a closed period counts in the next open period (the closed one is frozen).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.models import QualityBreach, QualityCase, QualityRating
from services.incentives.rules.periods import Period, period_of
from services.incentives.use_cases.common import counting_period, insert_for
from services.incentives.use_cases.contributions import add_to_totals
from shared.events.contracts import feedback as feedback_events

COMPLAINT_KINDS = frozenset({"complaint", "claim"})


def people_of(assignee_id: str | None, employee_id: str | None) -> list[str]:
    return sorted({p for p in (assignee_id, employee_id) if p})


async def _move(session: AsyncSession, natural: str, employee_id: str, **deltas: int) -> None:
    period = await counting_period(session, Period.parse(natural))
    await add_to_totals(session, period=period, employee_id=employee_id, **deltas)


async def apply_case(session: AsyncSession, *, facts: feedback_events.CaseFacts, at: datetime, zone: ZoneInfo,
                     received_at: datetime | None = None, outcome: str | None = None,
                     reopened: bool = False) -> None:
    """Fold one case event into the case's complaint count."""
    await session.execute(insert_for(session)(QualityCase).values(case_id=facts.case_id)
                          .on_conflict_do_nothing(index_elements=["case_id"]))
    case = (await session.execute(select(QualityCase).where(QualityCase.case_id == facts.case_id).with_for_update()
                                  .execution_options(populate_existing=True))).scalar_one()
    if case.facts_at is None or at >= case.facts_at:
        case.kind, case.employee_id, case.facts_at = facts.kind, facts.employee_id, at
    if received_at is not None:
        case.received_period = str(period_of(received_at, zone))
    if (outcome is not None or reopened) and (case.outcome_at is None or at >= case.outcome_at):
        case.outcome, case.outcome_at = (None if reopened else outcome), at
    counts = (case.kind in COMPLAINT_KINDS and case.employee_id is not None and case.received_period is not None
              and case.outcome != "rejected")
    wanted = (case.employee_id, case.received_period) if counts else (None, None)
    applied = (case.counted_employee_id, case.counted_period)
    if wanted == applied:
        return
    if applied[0] is not None and applied[1] is not None:
        await _move(session, applied[1], applied[0], complaints=-1)
    if wanted[0] is not None and wanted[1] is not None:
        await _move(session, wanted[1], wanted[0], complaints=1)
    case.counted_employee_id, case.counted_period = wanted


async def apply_breach(session: AsyncSession, *, event: feedback_events.SlaBreachedV1, zone: ZoneInfo) -> None:
    people = people_of(event.assignee_id, event.employee_id)
    natural = str(period_of(event.breached_at, zone))
    inserted = await session.execute(insert_for(session)(QualityBreach).values(
        case_id=event.case_id, target=event.target, due_at=event.due_at, employees=people, counted_period=natural)
        .on_conflict_do_nothing(index_elements=["case_id", "target", "due_at"]).returning(QualityBreach.case_id))
    if inserted.scalar_one_or_none() is None:
        return
    for person in people:
        await _move(session, natural, person, breaches=1)


async def apply_rating(session: AsyncSession, *, event: feedback_events.CaseRatedV1, zone: ZoneInfo) -> None:
    people = people_of(event.assignee_id, event.employee_id)
    natural = str(period_of(event.rated_at, zone))
    inserted = await session.execute(insert_for(session)(QualityRating).values(
        case_id=event.case_id, resolution_no=event.resolution_no, rating=event.rating, rated_at=event.rated_at,
        employees=people, counted_period=natural)
        .on_conflict_do_nothing(index_elements=["case_id", "resolution_no"]).returning(QualityRating.case_id))
    if inserted.scalar_one_or_none() is not None:
        for person in people:
            await _move(session, natural, person, csat_sum=event.rating, csat_count=1)
        return
    earlier = (await session.execute(select(QualityRating).where(
        QualityRating.case_id == event.case_id, QualityRating.resolution_no == event.resolution_no)
        .with_for_update())).scalar_one()
    if event.rated_at <= earlier.rated_at or event.rating == earlier.rating:
        return  # an older or identical rating: the newest one stands
    for person in earlier.employees:
        await _move(session, earlier.counted_period, person, csat_sum=event.rating - earlier.rating)
    earlier.rating, earlier.rated_at = event.rating, event.rated_at
