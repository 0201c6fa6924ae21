"""Events the incentives service consumes: the orders service's catalogue and sales, and the
feedback service's cases, SLA breaches and ratings.

The consumer runner records each event id in the inbox in the handler's transaction; the
handlers only apply the effect, and are idempotent in effect besides (counted lines and quality
rows are unique by their natural keys), so a replay with new event ids changes nothing either.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.config import IncentivesSettings
from services.incentives.use_cases import contributions, products, quality
from shared.bus.handlers import HandlerRegistry
from shared.events.contracts import feedback as feedback_events
from shared.events.contracts import orders as order_events
from shared.events.envelope import EventEnvelope


def build_handlers(settings: IncentivesSettings) -> HandlerRegistry:
    """The registry of this service's handlers, bound to the company's time zone and currency."""
    handlers = HandlerRegistry()

    @handlers.on("orders.product.created", 1)
    @handlers.on("orders.product.updated", 1)
    async def product_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = order_events.ProductSnapshot.model_validate(envelope.payload)
        await products.apply_product(session, product=event, state_at=envelope.occurred_at)

    @handlers.on("orders.order.paid", 1)
    @handlers.on("orders.order.paid", 2)
    async def order_paid(session: AsyncSession, envelope: EventEnvelope) -> None:
        await contributions.record_paid(session, event=order_events.OrderPaidV2.model_validate(envelope.payload),
                                        zone=settings.zone, currency=settings.currency)

    @handlers.on("orders.order.cancelled", 1)
    @handlers.on("orders.order.cancelled", 2)
    async def order_cancelled(session: AsyncSession, envelope: EventEnvelope) -> None:
        await contributions.record_cancelled(
            session, event=order_events.OrderCancelledV2.model_validate(envelope.payload), zone=settings.zone,
            currency=settings.currency)

    @handlers.on("orders.order.returned", 1)
    @handlers.on("orders.order.returned", 2)
    async def order_returned(session: AsyncSession, envelope: EventEnvelope) -> None:
        await contributions.record_returned(
            session, event=order_events.OrderReturnedV2.model_validate(envelope.payload), zone=settings.zone,
            currency=settings.currency)

    @handlers.on("feedback.case.received", 1)
    async def case_received(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.CaseReceivedV1.model_validate(envelope.payload)
        await quality.apply_case(session, facts=event, at=event.received_at, received_at=event.received_at,
                                 zone=settings.zone)

    @handlers.on("feedback.case.assigned", 1)
    @handlers.on("feedback.case.responded", 1)
    @handlers.on("feedback.case.waiting", 1)
    @handlers.on("feedback.case.resumed", 1)
    @handlers.on("feedback.case.closed", 1)
    async def case_facts(session: AsyncSession, envelope: EventEnvelope) -> None:
        """Any case event may carry a changed attribution (``employee_id``)."""
        event = feedback_events.CaseFacts.model_validate(envelope.payload)
        await quality.apply_case(session, facts=event, at=envelope.occurred_at, zone=settings.zone)

    @handlers.on("feedback.case.resolved", 1)
    async def case_resolved(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.CaseResolvedV1.model_validate(envelope.payload)
        await quality.apply_case(session, facts=event, at=event.resolved_at, outcome=event.outcome, zone=settings.zone)

    @handlers.on("feedback.case.reopened", 1)
    async def case_reopened(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.CaseReopenedV1.model_validate(envelope.payload)
        await quality.apply_case(session, facts=event, at=event.reopened_at, reopened=True, zone=settings.zone)

    @handlers.on("feedback.case.rated", 1)
    async def case_rated(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.CaseRatedV1.model_validate(envelope.payload)
        await quality.apply_case(session, facts=event, at=event.rated_at, zone=settings.zone)
        await quality.apply_rating(session, event=event, zone=settings.zone)

    @handlers.on("feedback.sla.breached", 1)
    async def sla_breached(session: AsyncSession, envelope: EventEnvelope) -> None:
        await quality.apply_breach(session, event=feedback_events.SlaBreachedV1.model_validate(envelope.payload),
                                   zone=settings.zone)

    return handlers
