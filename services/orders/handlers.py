"""Events the orders service consumes: the customers replica (registered, updated, manager assigned,
merged, erased).

The consumer runner records each event id in the inbox in the same transaction, so a handler
only applies the effect. Events of one customer arrive in order (they share a partition key),
but a replica can still meet news out of order (an HTTP answer fetched while events were in
flight, a replayed dead letter), which ``use_cases.customers.apply_customer_state`` absorbs by the
customer's ``revision`` (``occurred_at`` for events without one). Merges of one chain have different
keys and may arrive in any order; ``use_cases.loyalty.merge_loyalty`` follows the chain to its end.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.models import StaffMember
from services.orders.use_cases import customers as customer_cases
from services.orders.use_cases import erasure
from services.orders.use_cases import loyalty as loyalty_cases
from shared.bus.handlers import HandlerRegistry
from shared.events.contracts import customers as customer_events
from shared.events.envelope import EventEnvelope
from shared.staff.directory import register_handlers

handlers = HandlerRegistry()


@handlers.on("customers.customer.registered", 1)
@handlers.on("customers.customer.registered", 2)
@handlers.on("customers.customer.updated", 1)
@handlers.on("customers.customer.updated", 2)
async def customer_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
    # The version-2 facts read both versions; a version-1 record's name is not kept.
    event = customer_events.CustomerFacts.model_validate(envelope.payload)
    await customer_cases.apply_customer_state(
        session, customer_id=event.customer_id, status=event.status, state_at=envelope.occurred_at,
        source="event", kind=event.kind, segment=event.segment, manager_id=event.manager_id,
        revision=event.revision)


@handlers.on("customers.manager.assigned", 1)
async def manager_assigned(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = customer_events.ManagerAssignedV1.model_validate(envelope.payload)
    await customer_cases.apply_manager_assignment(session, customer_id=event.customer_id,
                                                  manager_id=event.employee_id, state_at=event.assigned_at,
                                                  revision=event.revision)


@handlers.on("customers.customer.merged", 1)
async def customer_merged(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = customer_events.CustomerMergedV1.model_validate(envelope.payload)
    await customer_cases.apply_customer_state(session, customer_id=event.merged_id, status="merged",
                                              state_at=event.merged_at, source="event",
                                              merged_into_id=event.survivor_id, revision=event.revision)
    await loyalty_cases.merge_loyalty(session, merged_id=event.merged_id, survivor_id=event.survivor_id)


@handlers.on("customers.customer.erased", 1)
async def customer_erased(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = customer_events.CustomerErasedV1.model_validate(envelope.payload)
    await erasure.erase_customer(session, customer_id=event.customer_id, erased_at=event.erased_at,
                                 revision=event.revision)


# The staff directory (incentives.employee.*): the sales employee of an order is checked against it.
register_handlers(handlers, StaffMember)
