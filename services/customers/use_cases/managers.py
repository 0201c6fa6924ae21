"""The customer's permanent account manager and the history of assignments."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import Customer, ManagerAssignment
from services.customers.use_cases.customers import get_active_customer, next_revision
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events


async def manager_history(session: AsyncSession, *, customer_id: str) -> list[ManagerAssignment]:
    return list((await session.execute(
        select(ManagerAssignment).where(ManagerAssignment.customer_id == customer_id)
        .order_by(ManagerAssignment.assigned_at.desc(), ManagerAssignment.id)
    )).scalars())


async def assign_manager(session: AsyncSession, *, customer_id: str, employee_id: str, actor: str) -> Customer:
    """Make ``employee_id`` the permanent manager; assigning the current one again changes nothing."""
    customer = await get_active_customer(session, customer_id=customer_id, for_update=True)
    if customer.manager_id == employee_id:
        return customer
    now = utcnow()
    await session.execute(update(ManagerAssignment)
                          .where(ManagerAssignment.customer_id == customer.id, ManagerAssignment.ended_at.is_(None))
                          .values(ended_at=now))
    session.add(ManagerAssignment(customer_id=customer.id, employee_id=employee_id, assigned_by=actor,
                                  assigned_at=now))
    previous, customer.manager_id, customer.updated_at = customer.manager_id, employee_id, now
    next_revision(customer)  # manager_id is part of what replicas keep (and of the HTTP answer)
    session.add(customer)
    await session.flush()
    add_event(session, events.ManagerAssignedV1(customer_id=customer.id, employee_id=employee_id,
                                                previous_employee_id=previous, assigned_by=actor, assigned_at=now,
                                                revision=customer.revision),
              aggregate_id=customer.id, customer_id=customer.id)
    return customer
