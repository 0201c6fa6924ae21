"""Events the customers service consumes (registry keyed by event type and version).

- ``incentives.product.weight_set``: the locomotive flags, kept from their date on;
- ``orders.order.paid`` (v1, v2): a sale of a locomotive product schedules the manager's follow-up;
- ``orders.order.cancelled`` (v1, v2): cancels that follow-up while it is still scheduled;
- ``analytics.customer.at_risk``: a retention call for the manager, at most one open per customer;
- ``incentives.employee.*``: the staff directory's replica (``shared.staff``).

The consumer runner claims each event id in the inbox in the handler's transaction; the effects are
keyed by their cause as well (``use_cases/follow_ups.py``), so the same fact under a new event id
changes nothing either.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.config import CustomersSettings
from services.customers.models import StaffMember
from services.customers.use_cases import follow_ups
from shared.bus.handlers import HandlerRegistry
from shared.events.contracts import analytics as analytics_events
from shared.events.contracts import incentives as incentive_events
from shared.events.contracts import orders as order_events
from shared.events.envelope import EventEnvelope
from shared.staff.directory import register_handlers


def build_handlers(settings: CustomersSettings) -> HandlerRegistry:
    handlers = HandlerRegistry()

    @handlers.on("incentives.product.weight_set", 1)
    async def weight_set(session: AsyncSession, envelope: EventEnvelope) -> None:
        await follow_ups.note_locomotive_flag(
            session, incentive_events.ProductWeightSetV1.model_validate(envelope.payload))

    # Version 1 parses with the version-2 model (it only adds the payment reference).
    @handlers.on("orders.order.paid", 1)
    @handlers.on("orders.order.paid", 2)
    async def order_paid(session: AsyncSession, envelope: EventEnvelope) -> None:
        await follow_ups.follow_up_paid_order(session, order_events.OrderPaidV2.model_validate(envelope.payload),
                                              settings)

    @handlers.on("orders.order.cancelled", 1)
    @handlers.on("orders.order.cancelled", 2)
    async def order_cancelled(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = order_events.OrderCancelledV2.model_validate(envelope.payload)
        await follow_ups.cancel_follow_up(session, order_id=event.order_id, cancelled_at=event.cancelled_at)

    @handlers.on("analytics.customer.at_risk", 1)
    async def at_risk(session: AsyncSession, envelope: EventEnvelope) -> None:
        await follow_ups.retention_call(session, analytics_events.CustomerAtRiskV1.model_validate(envelope.payload),
                                        settings)

    register_handlers(handlers, StaffMember)
    return handlers
