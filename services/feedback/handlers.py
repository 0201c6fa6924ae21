"""Events the feedback service consumes: customers (replica, merges, erasure), orders (orders and
products), incentives (the staff directory).

The consumer runner records each event id in the inbox in the handler's transaction, so a handler
only applies the effect; every effect is idempotent (re-keying moves nothing the second time,
anonymising twice clears the same texts, the replicas keep the newest news).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import EmployeeReplica
from services.feedback.use_cases import replicas
from shared.bus.handlers import HandlerRegistry
from shared.events.contracts import customers as customer_events
from shared.events.contracts import orders as order_events
from shared.events.envelope import EventEnvelope
from shared.staff.directory import register_handlers

handlers = HandlerRegistry()


# Version 2 of customers' and orders' events carries no personal data; version-1 records (retired)
# parse with the version-2 models.
@handlers.on("customers.customer.registered", 1)
@handlers.on("customers.customer.registered", 2)
@handlers.on("customers.customer.updated", 1)
@handlers.on("customers.customer.updated", 2)
async def customer_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = customer_events.CustomerFacts.model_validate(envelope.payload)
    await replicas.apply_customer_state(session, customer_id=event.customer_id, status=event.status,
                                        state_at=envelope.occurred_at, source="event", segment=event.segment,
                                        revision=event.revision)


@handlers.on("customers.customer.merged", 1)
async def customer_merged(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = customer_events.CustomerMergedV1.model_validate(envelope.payload)
    await replicas.apply_customer_state(session, customer_id=event.merged_id, status="merged",
                                        state_at=event.merged_at, source="event", merged_into_id=event.survivor_id,
                                        revision=event.revision)
    await replicas.rekey_cases(session, merged_id=event.merged_id, survivor_id=event.survivor_id,
                               at=envelope.occurred_at)


@handlers.on("customers.customer.erased", 1)
async def customer_erased(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = customer_events.CustomerErasedV1.model_validate(envelope.payload)
    await replicas.apply_customer_state(session, customer_id=event.customer_id, status="erased",
                                        state_at=event.erased_at, source="event", revision=event.revision)
    await replicas.anonymise_customer(session, customer_id=event.customer_id)


@handlers.on("orders.order.placed", 1)
@handlers.on("orders.order.paid", 1)
@handlers.on("orders.order.paid", 2)
@handlers.on("orders.order.fulfilled", 1)
@handlers.on("orders.order.cancelled", 1)
@handlers.on("orders.order.cancelled", 2)
async def order_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = order_events.OrderSnapshot.model_validate(envelope.payload)
    await replicas.apply_order_state(session, order_id=event.order_id, customer_id=event.customer_id,
                                     status=event.status, state_at=envelope.occurred_at, source="event",
                                     lines=[{"line_no": li.line_no, "product_id": li.product_id} for li in event.lines])


@handlers.on("orders.product.created", 1)
@handlers.on("orders.product.updated", 1)
async def product_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = order_events.ProductSnapshot.model_validate(envelope.payload)
    await replicas.apply_product_state(session, product_id=event.product_id, name=event.name,
                                       category=event.category, active=event.active, state_at=envelope.occurred_at,
                                       source="event")


# The staff directory (incentives.employee.*), kept by the shared mechanism every service uses.
register_handlers(handlers, EmployeeReplica.__table__)
