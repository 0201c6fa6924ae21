"""Responses: replies to the customer, internal notes, and what the customer said.

The first reply to the customer stops the first-response clock (a note does not, nor does a
message from the customer). A message from the customer on a case waiting on them resumes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Case, CaseResponse, new_id
from services.feedback.schemas import ResponseCreate
from services.feedback.use_cases import cases, configuration, sla, standards
from services.feedback.working_time import US
from shared.events.contracts import feedback as events


async def respond(session: AsyncSession, *, case_id: str, data: ResponseCreate, actor: str,
                  now: datetime) -> tuple[Case, CaseResponse]:
    case = await cases.load_for(session, case_id=case_id, command=data.kind)
    recorded_at, now = now, await cases.step_at(session, case, data.occurred_at, now=now)
    cited_id, cited_version = await standards.resolve_citation(
        session, standard_id=data.cited_standard_id, version=data.cited_standard_version, now=now)
    first = data.kind == "reply" and case.first_response_at is None
    first_seconds = None
    if first:
        calendar = await configuration.current_calendar(session)
        clock = await sla.stop_or_pause(session, case=case, prefix="fr", calendar=calendar, at=now, action="stop",
                                        actor=actor)
        case.first_response_at = now
        first_seconds = clock.elapsed // US
    response = CaseResponse(id=new_id(), case_id=case.id, kind=data.kind, channel=data.channel, body=data.body,
                            author_id=actor, at=now, first_response=first, cited_standard_id=cited_id,
                            cited_standard_version=cited_version)
    session.add(response)
    resumes = data.kind == "customer_message" and case.status == "waiting_on_customer"
    cases.move(session, case, command=data.kind if not resumes else "note", actor=actor, at=now,
               kind={"reply": "replied", "note": "noted", "customer_message": "customer_message"}[data.kind],
               response_id=response.id, first_response=first, channel=data.channel,
               cited_standard_id=cited_id, cited_standard_version=cited_version)
    cases.publish(session, case, events.CaseRespondedV1, now, response_id=response.id, response_kind=data.kind,
                  response_channel=data.channel, author_id=actor, first_response=first,
                  first_response_working_seconds=first_seconds, cited_standard_id=cited_id,
                  cited_standard_version=cited_version, responded_at=now)
    if resumes:
        await cases.resume_loaded(session, case, actor=actor, now=now)
    case.updated_at = now
    if data.occurred_at is not None:
        case.next_deadline_at = cases.held_for_history(case.next_deadline_at, recorded_at=recorded_at)
    return case, response

