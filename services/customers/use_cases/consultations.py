"""Follow-up consultations: scheduled for a customer, a manager's agenda, completed with an outcome or cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import Consultation
from services.customers.schemas import ConsultationCreate
from services.customers.use_cases.customers import get_active_customer
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events
from shared.http.errors import Conflict, NotFound, Unprocessable
from shared.http.pagination import PageParams, time_id_cursor, time_id_page


async def schedule_consultation(session: AsyncSession, *, customer_id: str, data: ConsultationCreate, actor: str,
                                source_key: str | None = None) -> Consultation:
    customer = await get_active_customer(session, customer_id=customer_id, for_update=True)  # as log_interaction
    employee_id = data.employee_id or customer.manager_id
    if employee_id is None:
        raise Unprocessable("the customer has no permanent manager; name the employee", field="employee_id")
    consultation = Consultation(customer_id=customer.id, employee_id=employee_id, topic=data.topic,
                                product_id=data.product_id, due_at=data.due_at, created_by=actor,
                                source_key=source_key)
    session.add(consultation)
    await session.flush()
    add_event(session, events.ConsultationScheduledV2(
        consultation_id=consultation.id, customer_id=customer.id, employee_id=employee_id, reason="manual",
        product_id=consultation.product_id, due_at=consultation.due_at),
        aggregate_id=consultation.id, customer_id=customer.id)
    return consultation


async def list_consultations(session: AsyncSession, *, page: PageParams, employee_id: str | None,
                             status: str | None, due_before: datetime | None,
                             customer_id: str | None = None) -> tuple[list[Consultation], str | None]:
    """A manager's agenda: soonest due first."""
    query = select(Consultation)
    if employee_id:
        query = query.where(Consultation.employee_id == employee_id)
    if status:
        query = query.where(Consultation.status == status)
    if due_before:
        query = query.where(Consultation.due_at < due_before)
    if customer_id:
        query = query.where(Consultation.customer_id == customer_id)
    if page.cursor:
        cursor = time_id_cursor(page.cursor, "due_at")
        query = query.where(or_(Consultation.due_at > cursor[0],
                                and_(Consultation.due_at == cursor[0], Consultation.id > cursor[1])))
    rows = list((await session.execute(
        query.order_by(Consultation.due_at, Consultation.id).limit(page.limit + 1))).scalars())
    return time_id_page(rows, page.limit, "due_at")


async def complete_consultation(session: AsyncSession, *, consultation_id: str, outcome: str) -> Consultation:
    consultation = await session.get(Consultation, consultation_id, with_for_update=True)
    if consultation is None:
        raise NotFound(f"no consultation {consultation_id}", consultation_id=consultation_id)
    if consultation.status == "cancelled":
        raise Conflict("the consultation was cancelled", consultation_id=consultation_id,
                       cancel_reason=consultation.cancel_reason)
    if consultation.status == "completed":
        if consultation.outcome == outcome:
            return consultation  # a retried completion
        raise Conflict("the consultation was already completed", consultation_id=consultation_id,
                       completed_at=consultation.completed_at.isoformat() if consultation.completed_at else None)
    now = utcnow()
    consultation.status, consultation.outcome, consultation.completed_at = "completed", outcome, now
    session.add(consultation)
    await session.flush()
    add_event(session, events.ConsultationCompletedV2(
        consultation_id=consultation.id, customer_id=consultation.customer_id, employee_id=consultation.employee_id,
        completed_at=now), aggregate_id=consultation.id, customer_id=consultation.customer_id)
    return consultation


async def cancel_scheduled(session: AsyncSession, *, customer_ids: list[str],
                           reason: Literal["customer_erased", "order_cancelled", "staff"],
                           now: datetime) -> list[Consultation]:
    """Cancel the customers' consultations that are still scheduled, each with its event; the caller
    holds the customers' row locks (nothing new is scheduled meanwhile)."""
    cancelled = list((await session.execute(
        select(Consultation).where(Consultation.customer_id.in_(customer_ids), Consultation.status == "scheduled")
        .order_by(Consultation.id).with_for_update())).scalars())
    for consultation in cancelled:
        consultation.status, consultation.cancelled_at, consultation.cancel_reason = "cancelled", now, reason
        add_event(session, events.ConsultationCancelledV1(
            consultation_id=consultation.id, customer_id=consultation.customer_id,
            employee_id=consultation.employee_id, reason=reason, cancelled_at=now),
            aggregate_id=consultation.id, customer_id=consultation.customer_id)
    session.add_all(cancelled)
    await session.flush()
    return cancelled
