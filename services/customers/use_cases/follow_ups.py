"""Consultations other services' news calls for: the follow-up of a locomotive sale, the retention call
of a partnership at risk; and the locomotive flags those decisions need.

Each effect is written once per cause, whatever the delivery: the follow-up of an order is keyed by
``locomotive:<order id>`` (unique ``source_key``), an open retention call is unique per customer (a
partial unique index), so a redelivered event, the same fact republished under a new event id, or two
replicas handling it at once schedule one consultation. Every write locks the customer's row first,
as staff's writes do, so a merge or an erasure racing the news is waited for.

Decisions (see the customers canvas in docs/architecture.md):

- the locomotive flag that counts is the one in force at the payment, as incentives counts the sale;
  a flag learnt after the paid event (the topics are independent) does not schedule it afterwards:
  flags take effect from a future day, so their news comes well before any sale they concern;
- an order paid longer ago than ``follow_up_max_age_days`` schedules nothing (an imported history or
  a replay: that moment has passed);
- the consultation goes to the customer's permanent manager, or to the order's sales employee when the
  customer has none; a merged customer's news goes to the survivor; an erased customer gets none;
- a retention call needs the manager: a customer without one gets none (the at-risk list in analytics
  still shows them), which is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.config import CustomersSettings
from services.customers.models import CancelledOrder, Consultation, Customer, LocomotiveFlag, new_id
from shared.bus.outbox import add_event
from shared.db.dialect import insert_for
from shared.db.types import utcnow
from shared.events.contracts import analytics as analytics_events
from shared.events.contracts import customers as events
from shared.events.contracts import incentives as incentive_events
from shared.events.contracts import orders as order_events

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:customers"
TOPIC_LIMIT = 300


def follow_up_key(order_id: str) -> str:
    return f"locomotive:{order_id}"


async def note_locomotive_flag(session: AsyncSession, event: incentive_events.ProductWeightSetV1) -> None:
    """Keep the flag from its date on; a later change for the same date (newer ``set_at``) replaces it."""
    statement = insert_for(session)(LocomotiveFlag).values(
        product_id=event.product_id, effective_at=event.effective_at, locomotive=event.locomotive,
        set_at=event.set_at)
    statement = statement.on_conflict_do_update(
        index_elements=["product_id", "effective_at"],
        set_={"locomotive": statement.excluded.locomotive, "set_at": statement.excluded.set_at},
        where=LocomotiveFlag.set_at < statement.excluded.set_at)
    await session.execute(statement)


async def locomotive_products(session: AsyncSession, product_ids: Iterable[str], at: datetime) -> set[str]:
    """The products among ``product_ids`` flagged locomotive in force at ``at``."""
    wanted = set(product_ids)
    if not wanted:
        return set()
    latest: dict[str, tuple[datetime, bool]] = {}
    rows = await session.execute(
        select(LocomotiveFlag.product_id, LocomotiveFlag.effective_at, LocomotiveFlag.locomotive)
        .where(LocomotiveFlag.product_id.in_(wanted), LocomotiveFlag.effective_at <= at))
    for product_id, effective_at, locomotive in rows:
        if product_id not in latest or latest[product_id][0] < effective_at:
            latest[product_id] = (effective_at, locomotive)
    return {product_id for product_id, (_at, locomotive) in latest.items() if locomotive}


async def _active_survivor(session: AsyncSession, customer_id: str) -> Customer | None:
    """The active customer that now stands for ``customer_id`` (merges followed), row-locked; None when
    erased or unknown."""
    seen: set[str] = set()
    customer = await session.get(Customer, customer_id, with_for_update=True)
    while customer is not None and customer.status == "merged" and customer.merged_into_id and customer.id not in seen:
        seen.add(customer.id)
        customer = await session.get(Customer, customer.merged_into_id, with_for_update=True)
    if customer is None or customer.status != "active":
        return None
    return customer


async def _schedule(session: AsyncSession, *, customer: Customer, employee_id: str, topic: str,
                    product_id: str | None, order_id: str | None, due_at: datetime,
                    reason: events.ConsultationReason, source_key: str | None) -> Consultation | None:
    """Insert the consultation unless its cause already has one (unique key or open retention call)."""
    consultation_id, now = new_id(), utcnow()
    inserted = await session.execute(insert_for(session)(Consultation).values(
        id=consultation_id, customer_id=customer.id, employee_id=employee_id, topic=topic[:TOPIC_LIMIT],
        product_id=product_id, due_at=due_at, status="scheduled", source_key=source_key, reason=reason,
        order_id=order_id, created_by=SYSTEM_ACTOR, created_at=now).on_conflict_do_nothing())
    if inserted.rowcount != 1:
        return None
    add_event(session, events.ConsultationScheduledV2(
        consultation_id=consultation_id, customer_id=customer.id, employee_id=employee_id, reason=reason,
        product_id=product_id, order_id=order_id, due_at=due_at),
        aggregate_id=consultation_id, customer_id=customer.id)
    return await session.get(Consultation, consultation_id)


async def follow_up_paid_order(session: AsyncSession, event: order_events.OrderPaidV2,
                               settings: CustomersSettings) -> Consultation | None:
    """A paid order with a locomotive product in force at the payment: one follow-up for the manager."""
    if utcnow() - event.paid_at > timedelta(days=settings.follow_up_max_age_days):
        return None
    if await session.get(CancelledOrder, event.order_id) is not None:
        return None  # its cancellation came first
    key_products = await locomotive_products(session, (line.product_id for line in event.lines), event.paid_at)
    if not key_products:
        return None
    customer = await _active_survivor(session, event.customer_id)
    if customer is None:
        return None
    lines = [line for line in event.lines if line.product_id in key_products]
    names = ", ".join(dict.fromkeys(line.name for line in lines))
    return await _schedule(
        session, customer=customer, employee_id=customer.manager_id or event.sales_employee_id,
        topic=f"Follow-up after the purchase of {names}", product_id=lines[0].product_id,
        order_id=event.order_id, due_at=event.paid_at + timedelta(hours=settings.follow_up_delay_hours),
        reason="locomotive_sale", source_key=follow_up_key(event.order_id))


async def cancel_follow_up(session: AsyncSession, *, order_id: str, cancelled_at: datetime) -> Consultation | None:
    """The order was cancelled: its follow-up, while still scheduled, is cancelled; a completed one stays.
    Remembered, so a paid event arriving after the cancellation schedules nothing."""
    await session.execute(insert_for(session)(CancelledOrder).values(order_id=order_id, cancelled_at=cancelled_at)
                          .on_conflict_do_nothing())
    consultation = (await session.execute(
        select(Consultation).where(Consultation.source_key == follow_up_key(order_id)))).scalar_one_or_none()
    if consultation is None or consultation.status != "scheduled":
        return consultation
    if await _active_survivor(session, consultation.customer_id) is None:
        return consultation  # erasure cancels it (and locks the row first)
    now = utcnow()
    done = await session.execute(
        update(Consultation).where(Consultation.id == consultation.id, Consultation.status == "scheduled")
        .values(status="cancelled", cancelled_at=now, cancel_reason="order_cancelled"))
    if done.rowcount == 1:
        add_event(session, events.ConsultationCancelledV1(
            consultation_id=consultation.id, customer_id=consultation.customer_id,
            employee_id=consultation.employee_id, reason="order_cancelled", cancelled_at=now),
            aggregate_id=consultation.id, customer_id=consultation.customer_id)
    await session.refresh(consultation)
    return consultation


async def before_merge(session: AsyncSession, *, survivor_id: str, duplicate_id: str, now: datetime) -> None:
    """Both customers of a merge have an open retention call: the survivor keeps its own, the
    duplicate's is cancelled (by staff's merge), so the survivor still has one open call."""
    open_calls = list((await session.execute(
        select(Consultation).where(Consultation.customer_id.in_([survivor_id, duplicate_id]),
                                   Consultation.reason == "retention", Consultation.status == "scheduled")
        .with_for_update())).scalars())
    if len(open_calls) < 2:
        return
    for call in open_calls:
        if call.customer_id == duplicate_id:
            call.status, call.cancelled_at, call.cancel_reason = "cancelled", now, "staff"
            session.add(call)
            add_event(session, events.ConsultationCancelledV1(
                consultation_id=call.id, customer_id=call.customer_id, employee_id=call.employee_id,
                reason="staff", cancelled_at=now), aggregate_id=call.id, customer_id=call.customer_id)
    await session.flush()


async def retention_call(session: AsyncSession, event: analytics_events.CustomerAtRiskV1,
                         settings: CustomersSettings) -> Consultation | None:
    """A partnership at risk: a retention call for the manager, at most one open per customer."""
    customer = await _active_survivor(session, event.customer_id)
    if customer is None:
        return None
    if customer.manager_id is None:
        log.info("no retention call: the customer has no permanent manager",
                 extra={"customer_id": customer.id, "reason": event.reason})
        return None
    why = "few recent purchases (RFM)" if event.reason == "rfm_at_risk" else "the chance of buying again is low"
    return await _schedule(
        session, customer=customer, employee_id=customer.manager_id,
        topic=f"Retention call: the partnership is at risk ({why})", product_id=None, order_id=None,
        due_at=max(event.detected_at, utcnow()) + timedelta(hours=settings.retention_call_delay_hours),
        reason="retention", source_key=None)
