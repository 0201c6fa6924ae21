"""Envelopes of every consumed contract, built through the contract models (so they are valid)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.events.contracts import customers as c
from shared.events.contracts import feedback as f
from shared.events.contracts import incentives as i
from shared.events.contracts import orders as o
from shared.events.envelope import EventEnvelope
from shared.events.registry import EventContract

CENT = Decimal("0.01")


def envelope(event: EventContract, *, aggregate_id: str, customer_id: str | None, at: datetime) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        type=event.event_type,
        version=event.event_version,
        occurred_at=at,
        producer=event.event_type.split(".")[0],
        aggregate_id=aggregate_id,
        customer_id=customer_id,
        correlation_id=str(uuid.uuid4()),
        payload=event.model_dump(mode="json"),
    )


def registered(
    customer_id: str, *, segment: str | None, manager_id: str | None, at: datetime, revision: int = 1
) -> EventEnvelope:
    return envelope(
        c.CustomerRegisteredV1(
            customer_id=customer_id,
            kind="company",
            name="PT Test",
            segment=segment,
            status="active",
            manager_id=manager_id,
            preferred_channel=None,
            tags=[],
            created_at=at,
            revision=revision,
            source=None,
            first_contact_channel=None,
        ),
        aggregate_id=customer_id,
        customer_id=customer_id,
        at=at,
    )


def updated(
    customer_id: str, *, segment: str | None, manager_id: str | None, at: datetime, revision: int, created_at: datetime
) -> EventEnvelope:
    return envelope(
        c.CustomerUpdatedV1(
            customer_id=customer_id,
            kind="company",
            name="PT Test",
            segment=segment,
            status="active",
            manager_id=manager_id,
            preferred_channel=None,
            tags=[],
            created_at=created_at,
            revision=revision,
            changed_fields=["segment"],
        ),
        aggregate_id=customer_id,
        customer_id=customer_id,
        at=at,
    )


def merged(merged_id: str, survivor_id: str, *, at: datetime, revision: int = 2) -> EventEnvelope:
    return envelope(
        c.CustomerMergedV1(survivor_id=survivor_id, merged_id=merged_id, merged_at=at, revision=revision),
        aggregate_id=merged_id,
        customer_id=merged_id,
        at=at,
    )


def erased(customer_id: str, *, at: datetime, revision: int = 3) -> EventEnvelope:
    return envelope(
        c.CustomerErasedV1(customer_id=customer_id, erased_at=at, revision=revision),
        aggregate_id=customer_id,
        customer_id=customer_id,
        at=at,
    )


def manager_assigned(customer_id: str, employee_id: str, *, at: datetime, revision: int | None) -> EventEnvelope:
    return envelope(
        c.ManagerAssignedV1(
            customer_id=customer_id,
            employee_id=employee_id,
            previous_employee_id=None,
            assigned_by="mgr",
            assigned_at=at,
            revision=revision,
        ),
        aggregate_id=customer_id,
        customer_id=customer_id,
        at=at,
    )


def interaction(customer_id: str, channel: str, *, at: datetime) -> EventEnvelope:
    iid = str(uuid.uuid4())
    return envelope(
        c.InteractionLoggedV1(
            interaction_id=iid,
            customer_id=customer_id,
            channel=channel,  # type: ignore[arg-type]
            direction="out",
            employee_id="emp-1",
            outcome="called",
            occurred_at=at,
        ),
        aggregate_id=iid,
        customer_id=customer_id,
        at=at,
    )


def consultation(customer_id: str, *, at: datetime) -> EventEnvelope:
    cid = str(uuid.uuid4())
    return envelope(
        c.ConsultationCompletedV1(
            consultation_id=cid, customer_id=customer_id, employee_id="emp-1", outcome="done", completed_at=at
        ),
        aggregate_id=cid,
        customer_id=customer_id,
        at=at,
    )


def delivered(customer_id: str, channel: str, *, at: datetime, status: str = "sent") -> EventEnvelope:
    aid = str(uuid.uuid4())
    return envelope(
        c.AnnouncementDeliveredV1(
            announcement_id=aid,
            customer_id=customer_id,
            channel=channel,  # type: ignore[arg-type]
            status=status,
            delivered_at=at,
        ),  # type: ignore[arg-type]
        aggregate_id=aid,
        customer_id=customer_id,
        at=at,
    )


def line(
    line_no: int,
    *,
    product_id: str,
    category: str,
    quantity: int,
    price: str,
    cost: str,
    discount_percent: str,
    returned_quantity: int = 0,
) -> o.OrderLineV1:
    gross = Decimal(price) * quantity
    discount = (gross * Decimal(discount_percent) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    net = gross - discount
    total_cost = Decimal(cost) * quantity
    return o.OrderLineV1(
        line_no=line_no,
        product_id=product_id,
        sku=f"SKU-{product_id}",
        name="item",
        category=category,
        quantity=quantity,
        unit_price=Decimal(price),
        unit_cost=Decimal(cost),
        discount_percent=Decimal(discount_percent),
        gross=gross,
        discount=discount,
        net=net,
        cost=total_cost,
        margin=net - total_cost,
        returned_quantity=returned_quantity,
    )


def _totals(lines: list[Any]) -> dict[str, Decimal]:
    keys = ("gross", "discount", "net", "cost", "margin")
    return {k: sum((getattr(x, k) for x in lines), Decimal(0)) for k in keys}


def _snapshot(
    order_id: str, customer_id: str, lines: list[o.OrderLineV1], status: str, placed_at: datetime, employee: str
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "sales_employee_id": employee,
        "channel": "store",
        "currency": "IDR",
        "status": status,
        "loyalty_tier": "silver",
        "discount_percent": Decimal("5"),
        "lines": lines,
        "placed_at": placed_at,
        **_totals(lines),
    }


def paid(
    order_id: str, customer_id: str, lines: list[o.OrderLineV1], *, at: datetime, employee: str = "emp-7"
) -> EventEnvelope:
    event = o.OrderPaidV1(
        **_snapshot(order_id, customer_id, lines, "paid", at, employee),
        paid_at=at,
        payment_method="cash",
        payment_reference=None,
    )
    return envelope(event, aggregate_id=order_id, customer_id=customer_id, at=at)


def cancelled(
    order_id: str,
    customer_id: str,
    lines: list[o.OrderLineV1],
    *,
    at: datetime,
    was_paid: bool,
    returned: dict[str, Decimal] | None = None,
    employee: str = "emp-7",
) -> EventEnvelope:
    totals = _totals(lines)
    back = returned or dict.fromkeys(totals, Decimal(0))
    reversed_ = {k: totals[k] - back[k] for k in totals} if was_paid else dict.fromkeys(totals, Decimal(0))
    event = o.OrderCancelledV1(
        **_snapshot(order_id, customer_id, lines, "cancelled", at, employee),
        cancelled_at=at,
        reason=None,
        was_paid=was_paid,
        reversed=o.Amounts(**reversed_),
        returned=o.Amounts(**back) if returned else None,
    )
    return envelope(event, aggregate_id=order_id, customer_id=customer_id, at=at)


def returned(
    order_id: str,
    customer_id: str,
    parts: list[tuple[o.OrderLineV1, int]],
    *,
    at: datetime,
    paid_at: datetime,
    employee: str = "emp-7",
) -> EventEnvelope:
    lines = []
    for source, quantity in parts:
        net = (source.net * quantity / source.quantity).quantize(CENT, rounding=ROUND_HALF_UP)
        gross = source.unit_price * quantity
        cost = source.unit_cost * quantity
        lines.append(
            o.ReturnedLineV1(
                line_no=source.line_no,
                product_id=source.product_id,
                sku=source.sku,
                category=source.category,
                quantity=quantity,
                gross=gross,
                discount=gross - net,
                net=net,
                cost=cost,
                margin=net - cost,
            )
        )
    return_id = str(uuid.uuid4())
    event = o.OrderReturnedV1(
        return_id=return_id,
        order_id=order_id,
        customer_id=customer_id,
        sales_employee_id=employee,
        channel="store",
        currency="IDR",
        reason=None,
        lines=lines,
        returned_at=at,
        order_paid_at=paid_at,
        fully_returned=False,
        **_totals(lines),
    )
    return envelope(event, aggregate_id=order_id, customer_id=customer_id, at=at)


def _case(case_id: str, customer_id: str, kind: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "case_number": "C-2026-000001",
        "kind": kind,
        "customer_id": customer_id,
        "order_id": None,
        "product_id": None,
        "category_id": None,
        "category_path": [],
        "priority": "normal",
        "channel": "phone",
        "status": "new",
        "assignee_id": None,
        "employee_id": None,
    }


def case_received(case_id: str, customer_id: str, kind: str, *, at: datetime) -> EventEnvelope:
    event = f.CaseReceivedV1(
        **_case(case_id, customer_id, kind),
        line_nos=[],
        sla_policy_version=1,
        first_response_due_at=None,
        resolution_due_at=None,
        received_at=at,
    )
    return envelope(event, aggregate_id=case_id, customer_id=customer_id, at=at)


def case_resolved(
    case_id: str,
    customer_id: str,
    kind: str,
    *,
    at: datetime,
    compensation: str,
    resolution_no: int = 1,
    breached: bool = False,
) -> EventEnvelope:
    event = f.CaseResolvedV1(
        **{**_case(case_id, customer_id, kind), "status": "resolved"},
        resolution_no=resolution_no,
        outcome="upheld",
        compensation="refund" if Decimal(compensation) else "none",
        compensation_amount=Decimal(compensation),
        currency="IDR",
        first_response_working_seconds=60,
        resolution_working_seconds=600,
        first_response_breached=False,
        resolution_breached=breached,
        cited_standard_id=None,
        cited_standard_version=None,
        resolved_by="sup-1",
        resolved_at=at,
    )
    return envelope(event, aggregate_id=case_id, customer_id=customer_id, at=at)


def sla_breached(case_id: str, customer_id: str, kind: str, *, at: datetime) -> EventEnvelope:
    event = f.SlaBreachedV1(
        case_id=case_id,
        case_number="C-2026-000001",
        kind=kind,
        customer_id=customer_id,  # type: ignore[arg-type]
        priority="normal",
        category_id=None,
        assignee_id=None,
        employee_id=None,
        target="first_response",
        target_seconds=3600,
        working_time=True,
        due_at=at,
        breached_at=at,
        escalation_level=1,
    )
    return envelope(event, aggregate_id=case_id, customer_id=customer_id, at=at)


def employee_hired(employee_id: str, name: str, *, at: datetime) -> EventEnvelope:
    event = i.EmployeeHiredV1(
        employee_id=employee_id,
        name=name,
        role="sales",
        team=None,
        email=None,
        hired_on=at.date(),
        left_on=None,
        active=True,
    )
    return envelope(event, aggregate_id=employee_id, customer_id=None, at=at)


def weight_set(product_id: str, weight: str, *, effective_at: datetime, locomotive: bool = False) -> EventEnvelope:
    event = i.ProductWeightSetV1(
        product_id=product_id,
        category=None,
        weight=Decimal(weight),
        locomotive=locomotive,
        effective_from=effective_at.date(),
        effective_at=effective_at,
        previous_weight=None,
        previous_locomotive=None,
        set_by="head",
        set_at=effective_at,
    )
    return envelope(event, aggregate_id=product_id, customer_id=None, at=effective_at)


def period_closed(period: str, results: list[dict[str, Any]], *, at: datetime) -> EventEnvelope:
    event = i.PeriodClosedV1(
        period=period,
        currency="IDR",
        company_target_points=None,
        company_points=Decimal("100"),
        bonus_policy_version=1,
        best_employee_id=results[0]["employee_id"] if results else None,
        employees=[i.EmployeePeriodResult(**r) for r in results],
        closed_by="head",
        closed_at=at,
    )
    return envelope(event, aggregate_id=period, customer_id=None, at=at)
