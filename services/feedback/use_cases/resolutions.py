"""Resolutions (with outcome and compensation) and the customer's rating of each.

Resolving stops the resolution clock, whether it ran or was paused waiting on the customer (the
wait is kept as hold time, never lost nor counted), and the first-response clock if nobody replied
before: the resolution is then the first answer. A rating (CSAT 1-5) is taken once per resolution,
only while the case is resolved or closed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Case, CaseResolution
from services.feedback.schemas import RatingCreate, ResolveRequest
from services.feedback.use_cases import cases, configuration, sla, standards
from services.feedback.working_time import US
from shared.events.contracts import feedback as events

ZERO = Decimal("0.00")


async def resolve(session: AsyncSession, *, case_id: str, data: ResolveRequest, actor: str, currency: str,
                  now: datetime) -> tuple[Case, CaseResolution]:
    case = await cases.load_for(session, case_id=case_id, command="resolve")
    now = await cases.step_at(session, case, data.occurred_at, now=now)
    cited_id, cited_version = await standards.resolve_citation(
        session, standard_id=data.cited_standard_id, version=data.cited_standard_version, now=now)
    calendar = await configuration.current_calendar(session)
    if case.first_response_at is None:
        await sla.stop_or_pause(session, case=case, prefix="fr", calendar=calendar, at=now, action="stop",
                                actor=actor)
        case.first_response_at = now
    resolution_clock = await sla.stop_or_pause(session, case=case, prefix="res", calendar=calendar, at=now,
                                               action="stop", actor=actor)
    first_response = sla.clock_of(case, "fr")
    case.resolution_no += 1
    case.resolved_at, case.waiting_since, case.rated = now, None, False
    amount = data.compensation_amount if data.compensation != "none" and data.compensation_amount else ZERO
    resolution = CaseResolution(
        case_id=case.id, resolution_no=case.resolution_no, outcome=data.outcome, text=data.text,
        compensation=data.compensation, compensation_amount=amount, currency=data.currency or currency,
        cited_standard_id=cited_id, cited_standard_version=cited_version, resolved_by=actor, resolved_at=now,
        first_response_us=first_response.elapsed, resolution_us=resolution_clock.elapsed,
        waited_us=resolution_clock.held, first_response_breached=first_response.breached,
        resolution_breached=resolution_clock.breached)
    session.add(resolution)
    cases.move(session, case, command="resolve", actor=actor, at=now, kind="resolved",
               resolution_no=case.resolution_no, outcome=data.outcome, compensation=data.compensation,
               compensation_amount=str(amount), currency=resolution.currency, cited_standard_id=cited_id,
               cited_standard_version=cited_version)
    cases.publish(session, case, events.CaseResolvedV1, now, resolution_no=case.resolution_no, outcome=data.outcome,
                  compensation=data.compensation, compensation_amount=amount, currency=resolution.currency,
                  first_response_working_seconds=first_response.elapsed // US,
                  resolution_working_seconds=resolution_clock.elapsed // US,
                  first_response_breached=first_response.breached, resolution_breached=resolution_clock.breached,
                  cited_standard_id=cited_id, cited_standard_version=cited_version, resolved_by=actor,
                  resolved_at=now)
    return case, resolution


async def rate(session: AsyncSession, *, case_id: str, data: RatingCreate, actor: str, now: datetime) -> Case:
    case = await cases.load_for(session, case_id=case_id, command="rate")
    now = await cases.step_at(session, case, data.occurred_at, now=now)
    await session.execute(
        update(CaseResolution)
        .where(CaseResolution.case_id == case.id, CaseResolution.resolution_no == case.resolution_no,
               CaseResolution.rating.is_(None))
        .values(rating=data.rating, rating_comment=data.comment, rated_by=actor, rated_at=now))
    case.rated = True
    cases.record(session, case, kind="rated", actor=actor, at=now, resolution_no=case.resolution_no,
                 rating=data.rating)
    case.updated_at = now
    cases.publish(session, case, events.CaseRatedV1, now, resolution_no=case.resolution_no, rating=data.rating,
                  rated_at=now)
    return case
