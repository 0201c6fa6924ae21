"""Consent per channel: the consent in force, its history, and the preferred channel it allows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import Consent, ConsentChange, Customer
from services.customers.schemas import ConsentsUpdate
from services.customers.use_cases.customers import consents_of, get_active_customer, publish_updated
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import customers as events
from shared.http.errors import Unprocessable


async def consent_history(session: AsyncSession, *, customer_id: str) -> list[ConsentChange]:
    return list((await session.execute(
        select(ConsentChange).where(ConsentChange.customer_id == customer_id)
        .order_by(ConsentChange.changed_at.desc(), ConsentChange.id)
    )).scalars())


async def set_consents(session: AsyncSession, *, customer_id: str, data: ConsentsUpdate, actor: str) -> Customer:
    """Record each change of consent (who, when, source); unchanged channels record nothing."""
    customer = await get_active_customer(session, customer_id=customer_id, for_update=True)
    current = (await consents_of(session, [customer.id]))[customer.id]
    now = utcnow()
    for item in data.consents:
        if current.get(item.channel) == item.granted:
            continue
        existing = await session.get(Consent, (customer.id, item.channel))
        if existing is None:
            session.add(Consent(customer_id=customer.id, channel=item.channel, granted=item.granted, updated_at=now))
        else:
            existing.granted, existing.updated_at = item.granted, now
        session.add(ConsentChange(customer_id=customer.id, channel=item.channel, granted=item.granted,
                                  source=item.source, changed_by=actor, changed_at=now))
        current[item.channel] = item.granted
        add_event(session, events.ConsentChangedV2(customer_id=customer.id, channel=item.channel,
                                                   granted=item.granted, changed_by=actor, changed_at=now),
                  aggregate_id=customer.id, customer_id=customer.id)
    preferred = data.preferred_channel if "preferred_channel" in data.model_fields_set else customer.preferred_channel
    if preferred is not None and not current.get(preferred):
        if "preferred_channel" in data.model_fields_set:
            raise Unprocessable(f"the customer has not consented to {preferred}", field="preferred_channel")
        preferred = None  # consent to the preferred channel was just withdrawn
    if preferred != customer.preferred_channel:
        customer.preferred_channel = preferred
        customer.updated_at = now
        session.add(customer)
        await session.flush()
        await publish_updated(session, customer, ["preferred_channel"])
    await session.flush()
    return customer
