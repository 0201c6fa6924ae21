"""Erasing a customer's personal data on request (the right to erasure)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import Consultation, Customer, CustomerIdentifier, Interaction
from services.customers.use_cases.customers import get_customer, next_revision
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events
from shared.http.errors import Conflict

ERASED_NAME = "Erased customer"


async def erase_customer(session: AsyncSession, *, customer_id: str) -> Customer:
    """Anonymise personal data on request; keeps the id and non-personal facts. Repeating it is harmless.

    The row is locked first: a merge into (or of) this customer in progress is waited for, so what
    it moves over is erased with it, and a customer just merged away is refused (erase its survivor).
    """
    customer = await get_customer(session, customer_id=customer_id, for_update=True)
    if customer.status == "erased":
        return customer
    if customer.status == "merged":
        raise Conflict(f"customer {customer_id} was merged; erase the survivor {customer.merged_into_id}",
                       survivor_id=customer.merged_into_id)
    now = utcnow()
    _anonymise(customer, now)
    customer.status = "erased"
    next_revision(customer)
    # Records merged into this one hold the same person's data: they go too (and so do theirs).
    retired: list[Customer] = []
    frontier = [customer.id]
    while frontier:
        found = list((await session.execute(
            select(Customer).where(Customer.merged_into_id.in_(frontier)).with_for_update())).scalars())
        retired += found
        frontier = [c.id for c in found]
    for merged in retired:
        if merged.erased_at is None:
            _anonymise(merged, now)
        next_revision(merged)  # each gets an erased event below
        session.add(merged)
    await session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_id == customer.id))
    await session.execute(update(Interaction).where(Interaction.customer_id == customer.id)
                          .values(summary="[erased]"))
    await session.execute(update(Consultation).where(Consultation.customer_id == customer.id)
                          .values(outcome=None))
    # Consent history stays: it is the proof of what the customer allowed, and holds no personal data.
    session.add(customer)
    await session.flush()
    add_event(session, events.CustomerErasedV1(customer_id=customer.id, erased_at=now, revision=customer.revision),
              aggregate_id=customer.id, customer_id=customer.id)
    for merged in retired:
        # Replicas that never re-keyed the merged id must drop their copy too.
        add_event(session, events.CustomerErasedV1(customer_id=merged.id, erased_at=now, revision=merged.revision),
                  aggregate_id=merged.id, customer_id=merged.id)
    return customer


def _anonymise(customer: Customer, now: datetime) -> None:
    customer.name = ERASED_NAME
    customer.emails, customer.phones, customer.tax_id = [], [], None
    customer.address = customer.notes = customer.source = None
    customer.preferred_channel = None
    customer.search_text = ""
    customer.erased_at = customer.updated_at = now
