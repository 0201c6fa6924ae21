"""Events analytics consumes: every service's (customers, orders, feedback, incentives).

The consumer runner claims each event id in the inbox in the handler's transaction; a handler
applies its effect once more through a business-fact claim (``applied_fact``), so the same fact
republished under a new event id changes nothing either. Topics are consumed independently, so
any order across topics is possible; every effect here is written to converge whatever the order
(see ``use_cases/ledger.py``, ``accounts.py`` and ``cases.py``).

Types analytics does not need (consents, consultation scheduled/cancelled, announcement
dispatched, case assigned/responded/waiting/resumed/reopened/closed/rated, standards, awards,
product catalogue) are not registered: the runner skips them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics import activities
from services.analytics.money import to_minor
from services.analytics.use_cases import accounts, cases, ledger, staff
from shared.bus.handlers import HandlerRegistry
from shared.events.contracts import customers as customer_events
from shared.events.contracts import feedback as feedback_events
from shared.events.contracts import incentives as incentive_events
from shared.events.contracts import orders as order_events
from shared.events.envelope import EventEnvelope


def build_handlers(zone: ZoneInfo) -> HandlerRegistry:
    """The registry, with periods bucketed in the company's time zone ``zone``."""
    handlers = HandlerRegistry()

    # ----- customers ------------------------------------------------------------------------
    # Version 2 carries no personal data; version-1 records (retired) parse with the version-2 models.
    @handlers.on("customers.customer.registered", 1)
    @handlers.on("customers.customer.registered", 2)
    @handlers.on("customers.customer.updated", 1)
    @handlers.on("customers.customer.updated", 2)
    async def customer_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.CustomerFacts.model_validate(envelope.payload)
        await accounts.apply_snapshot(
            session,
            customer_id=event.customer_id,
            kind=event.kind,
            segment=event.segment,
            manager_id=event.manager_id,
            status=event.status,
            revision=event.revision,
            state_at=envelope.occurred_at,
            registered_at=event.created_at,
        )
        await ledger.mark_dirty(session)

    @handlers.on("customers.manager.assigned", 1)
    async def manager_assigned(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.ManagerAssignedV1.model_validate(envelope.payload)
        await accounts.apply_manager(
            session,
            customer_id=event.customer_id,
            manager_id=event.employee_id,
            revision=event.revision,
            assigned_at=event.assigned_at,
        )

    @handlers.on("customers.customer.merged", 1)
    async def customer_merged(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.CustomerMergedV1.model_validate(envelope.payload)
        await accounts.apply_merge(session, merged_id=event.merged_id, survivor_id=event.survivor_id)
        await ledger.mark_dirty(session)

    @handlers.on("customers.customer.erased", 1)
    async def customer_erased(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.CustomerErasedV1.model_validate(envelope.payload)
        await accounts.apply_erased(session, customer_id=event.customer_id)

    @handlers.on("customers.interaction.logged", 1)
    @handlers.on("customers.interaction.logged", 2)
    async def interaction_logged(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.InteractionLoggedV2.model_validate(envelope.payload)
        await ledger.activity_happened(
            session,
            ref=f"interaction:{event.interaction_id}",
            customer_id=event.customer_id,
            activity=activities.interaction(event.channel),
            at=event.occurred_at,
            zone=zone,
        )

    @handlers.on("customers.consultation.completed", 1)
    @handlers.on("customers.consultation.completed", 2)
    async def consultation_completed(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.ConsultationCompletedV2.model_validate(envelope.payload)
        await ledger.activity_happened(
            session,
            ref=f"consultation:{event.consultation_id}",
            customer_id=event.customer_id,
            activity="consultation",
            at=event.completed_at,
            zone=zone,
        )

    @handlers.on("customers.announcement.delivered", 1)
    async def announcement_delivered(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = customer_events.AnnouncementDeliveredV1.model_validate(envelope.payload)
        if event.status != "sent":
            return  # a failed delivery cost (almost) nothing and reached no one
        await ledger.activity_happened(
            session,
            ref=f"delivery:{event.announcement_id}:{event.customer_id}",
            customer_id=event.customer_id,
            activity=activities.announcement(event.channel),
            at=event.delivered_at,
            zone=zone,
        )

    # ----- orders -----------------------------------------------------------------------------
    @handlers.on("orders.order.paid", 1)
    @handlers.on("orders.order.paid", 2)
    async def order_paid(session: AsyncSession, envelope: EventEnvelope) -> None:
        await ledger.order_paid(session, order_events.OrderPaidV2.model_validate(envelope.payload), zone=zone)

    @handlers.on("orders.order.cancelled", 1)
    @handlers.on("orders.order.cancelled", 2)
    async def order_cancelled(session: AsyncSession, envelope: EventEnvelope) -> None:
        await ledger.order_cancelled(session, order_events.OrderCancelledV2.model_validate(envelope.payload), zone=zone)

    @handlers.on("orders.order.returned", 1)
    @handlers.on("orders.order.returned", 2)
    async def order_returned(session: AsyncSession, envelope: EventEnvelope) -> None:
        await ledger.order_returned(session, order_events.OrderReturnedV2.model_validate(envelope.payload), zone=zone)

    # ----- feedback ---------------------------------------------------------------------------
    @handlers.on("feedback.case.received", 1)
    async def case_received(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.CaseReceivedV1.model_validate(envelope.payload)
        await cases.case_event(
            session,
            case_id=event.case_id,
            customer_id=event.customer_id,
            kind=event.kind,
            received_at=event.received_at,
            zone=zone,
        )
        await ledger.activity_happened(
            session,
            ref=f"case:{event.case_id}",
            customer_id=event.customer_id,
            activity=activities.case(event.kind),
            at=event.received_at,
            zone=zone,
        )

    @handlers.on("feedback.case.resolved", 1)
    async def case_resolved(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.CaseResolvedV1.model_validate(envelope.payload)
        await cases.case_event(
            session,
            case_id=event.case_id,
            customer_id=event.customer_id,
            kind=event.kind,
            resolved=True,
            breached=event.first_response_breached or event.resolution_breached,
            zone=zone,
        )
        await ledger.compensation_paid(
            session,
            case_id=event.case_id,
            resolution_no=event.resolution_no,
            customer_id=event.customer_id,
            amount=to_minor(event.compensation_amount),
            at=event.resolved_at,
            zone=zone,
        )

    @handlers.on("feedback.sla.breached", 1)
    async def sla_breached(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = feedback_events.SlaBreachedV1.model_validate(envelope.payload)
        await cases.case_event(
            session, case_id=event.case_id, customer_id=event.customer_id, kind=event.kind, breached=True, zone=zone
        )

    # ----- incentives ---------------------------------------------------------------------------
    @handlers.on("incentives.employee.hired", 1)
    @handlers.on("incentives.employee.updated", 1)
    @handlers.on("incentives.employee.left", 1)
    async def employee_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
        await staff.apply_employee(session, incentive_events.EmployeeSnapshot.model_validate(envelope.payload))

    @handlers.on("incentives.product.weight_set", 1)
    async def weight_set(session: AsyncSession, envelope: EventEnvelope) -> None:
        await staff.apply_weight(session, incentive_events.ProductWeightSetV1.model_validate(envelope.payload))

    @handlers.on("incentives.period.closed", 1)
    async def period_closed(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = incentive_events.PeriodClosedV1.model_validate(envelope.payload)
        await staff.apply_period_closed(session, event, closed_at=event.closed_at)

    return handlers
