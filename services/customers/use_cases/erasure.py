"""Erasing a customer's personal data on request (the right to erasure).

What is personal goes, what the business must keep stays. Every text column of this service is
listed here with its fate:

- customer: name (replaced by ``ERASED_NAME``), e-mails, phones, tax id, address, notes, source,
  preferred channel and the search text are cleared; kind, segment, first contact channel, manager,
  status, dates and revision stay (statistics, and the replicas' ordering);
- customer_identifier rows are deleted (the identifiers are free for someone else);
- customer_tag rows are deleted (a tag is free text: "wife of the owner" is a tag too);
- interaction: summary becomes ``REDACTED``, outcome is cleared; channel, direction, employee and
  dates stay;
- consultation: topic becomes ``REDACTED``, outcome is cleared; scheduled ones are cancelled
  (``customers.consultation.cancelled``, reason ``customer_erased``);
- consent_change: source becomes ``REDACTED`` (it is free text); channel, granted, who recorded it
  and when stay, as the proof of what the customer allowed;
- announcement_delivery: detail (the gateway's free text, which may echo the address) is cleared;
- consent, manager_assignment, announcement: nothing personal (codes, ids, staff, company news).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import (
    AnnouncementDelivery,
    ConsentChange,
    Consultation,
    Customer,
    CustomerIdentifier,
    CustomerTag,
    Interaction,
)
from services.customers.use_cases.consultations import cancel_scheduled
from services.customers.use_cases.customers import get_customer, next_revision
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events
from shared.http.errors import Conflict

ERASED_NAME = "Erased customer"
REDACTED = "[erased]"


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
    # Merges moved the duplicates' rows to the survivor already; naming their ids too costs nothing
    # and leaves nothing behind if a row ever stayed with a duplicate.
    ids = [customer.id, *(merged.id for merged in retired)]
    await cancel_scheduled(session, customer_ids=ids, reason="customer_erased", now=now)
    await _redact_records(session, ids)
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


async def _redact_records(session: AsyncSession, customer_ids: list[str]) -> None:
    """Free text that hangs off the customers (see the module docstring for every column's fate)."""
    await session.execute(delete(CustomerIdentifier).where(CustomerIdentifier.customer_id.in_(customer_ids)))
    await session.execute(delete(CustomerTag).where(CustomerTag.customer_id.in_(customer_ids)))
    await session.execute(update(Interaction).where(Interaction.customer_id.in_(customer_ids))
                          .values(summary=REDACTED, outcome=None))
    await session.execute(update(Consultation).where(Consultation.customer_id.in_(customer_ids))
                          .values(topic=REDACTED, outcome=None))
    await session.execute(update(ConsentChange).where(ConsentChange.customer_id.in_(customer_ids))
                          .values(source=REDACTED))
    await session.execute(update(AnnouncementDelivery).where(AnnouncementDelivery.customer_id.in_(customer_ids))
                          .values(detail=None))
