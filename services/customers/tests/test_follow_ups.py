"""Consultations other services' news calls for, through the real broker: a locomotive sale's follow-up
(once per order, cancelled with the order), a partnership at risk's retention call (one open at most)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.customers.tests.conftest import MANAGER, SUPPORT, assert_problem, person, register, unique
from shared.events.contracts import analytics as analytics_events
from shared.events.contracts import incentives as incentive_events
from shared.events.contracts import orders as order_events
from shared.testing.events import Bus, EventLog

pytestmark = pytest.mark.integration


def _amounts(net: str) -> dict[str, str]:
    return {"gross": net, "discount": "0.00", "net": net, "cost": "0.00", "margin": net}


def _line(line_no: int, product_id: str, name: str) -> order_events.OrderLineV1:
    return order_events.OrderLineV1(line_no=line_no, product_id=product_id, sku=f"SKU-{line_no}", name=name,
                                    category="printing_consumables", quantity=1, unit_price="100.00",
                                    unit_cost="0", discount_percent="0", returned_quantity=0, **_amounts("100.00"))


def _snapshot(order_id: str, customer_id: str, lines: list[order_events.OrderLineV1], status: str,
              placed_at: datetime) -> dict[str, Any]:
    total = f"{Decimal('100.00') * len(lines):.2f}"
    return {"order_id": order_id, "customer_id": customer_id, "sales_employee_id": "emp-seller", "channel": "store",
            "currency": "IDR", "status": status, "loyalty_tier": None, "discount_percent": "0", "lines": lines,
            "placed_at": placed_at, "returned": None, **_amounts(total)}


async def paid(bus: Bus, order_id: str, customer_id: str, lines: list[order_events.OrderLineV1],
               paid_at: datetime) -> None:
    event = order_events.OrderPaidV2(**_snapshot(order_id, customer_id, lines, "paid", paid_at - timedelta(hours=1)),
                                     paid_at=paid_at, payment_method="cash")
    await bus.publish(event, key=customer_id, aggregate_id=order_id, customer_id=customer_id)


async def cancelled(bus: Bus, order_id: str, customer_id: str, lines: list[order_events.OrderLineV1],
                    at: datetime) -> None:
    snapshot = _snapshot(order_id, customer_id, lines, "cancelled", at - timedelta(hours=2))
    event = order_events.OrderCancelledV2(**snapshot, cancelled_at=at, was_paid=True,
                                          reversed=order_events.Amounts(**_amounts("100.00")))
    await bus.publish(event, key=customer_id, aggregate_id=order_id, customer_id=customer_id)


async def flag(bus: Bus, product_id: str, *, locomotive: bool, effective_at: datetime) -> None:
    event = incentive_events.ProductWeightSetV1(
        product_id=product_id, category="printing_consumables", weight="2.5" if locomotive else "1",
        locomotive=locomotive, effective_from=effective_at.date(), effective_at=effective_at,
        previous_weight=None, previous_locomotive=None, set_by="head", set_at=datetime.now(UTC))
    await bus.publish(event, key=product_id, aggregate_id=product_id)


async def at_risk(bus: Bus, customer_id: str, manager_id: str | None) -> None:
    now = datetime.now(UTC)
    event = analytics_events.CustomerAtRiskV1(
        customer_id=customer_id, manager_id=manager_id, segment="retail", reason="low_p_alive", rfm_group=None,
        p_alive=0.12, last_purchase_at=now - timedelta(days=200), detected_at=now)
    await bus.publish(event, key=customer_id, aggregate_id=customer_id, customer_id=customer_id)


async def agenda(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get("/consultations", params={"customer_id": customer_id, "limit": 200}, headers=SUPPORT)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def managed_customer(client: httpx.AsyncClient, manager: str | None = "emp-manager") -> str:
    customer = (await register(client, person(name="Yusuf Hakim")))["id"]
    if manager:
        assigned = await client.put(f"/customers/{customer}/manager", json={"employee_id": manager}, headers=MANAGER)
        assert assigned.status_code == 200, assigned.text
    return customer


async def test_a_locomotive_sale_schedules_one_follow_up_for_the_manager(
        client: httpx.AsyncClient, bus: Bus, event_log: EventLog) -> None:
    toner, paper = unique("toner-"), unique("paper-")
    last_month = datetime.now(UTC) - timedelta(days=30)
    await flag(bus, toner, locomotive=True, effective_at=last_month)
    customer = await managed_customer(client)
    order_id = unique("o-")
    lines = [_line(1, paper, "Kertas HVS A4"), _line(2, toner, "Toner 12A")]
    paid_at = datetime.now(UTC) - timedelta(hours=2)
    await asyncio.sleep(1.0)  # the flag's topic is consumed independently of the orders topic
    await paid(bus, order_id, customer, lines, paid_at)
    # Redelivered under a new event id (a replayed relay): still one consultation.
    await paid(bus, order_id, customer, lines, paid_at)

    async def scheduled() -> dict[str, Any]:
        items = [c for c in await agenda(client, customer) if c["order_id"] == order_id]
        assert len(items) == 1, items
        return items[0]

    follow_up = await eventually(scheduled)
    assert (follow_up["reason"], follow_up["status"], follow_up["employee_id"], follow_up["product_id"]) == (
        "locomotive_sale", "scheduled", "emp-manager", toner)
    assert "Toner 12A" in follow_up["topic"] and "Kertas" not in follow_up["topic"]
    assert datetime.fromisoformat(follow_up["due_at"]) == paid_at + timedelta(hours=72)
    on_agenda = await client.get("/consultations", params={"employee_id": "emp-manager"}, headers=SUPPORT)
    assert follow_up["id"] in {c["id"] for c in on_agenda.json()["items"]}
    (announced,) = await event_log.wait_type("customers.consultation.scheduled", consultation_id=follow_up["id"])
    assert (announced.payload["reason"], announced.payload["order_id"]) == ("locomotive_sale", order_id)
    await asyncio.sleep(1.0)
    assert len([c for c in await agenda(client, customer) if c["order_id"] == order_id]) == 1

    # The order is cancelled before the consultation: the follow-up is cancelled with it.
    await cancelled(bus, order_id, customer, lines, datetime.now(UTC))

    async def cancelled_too() -> dict[str, Any]:
        (item,) = [c for c in await agenda(client, customer) if c["order_id"] == order_id]
        assert item["status"] == "cancelled", item
        return item

    assert (await eventually(cancelled_too))["cancel_reason"] == "order_cancelled"
    await event_log.wait_type("customers.consultation.cancelled", consultation_id=follow_up["id"])


async def test_no_follow_up_without_a_locomotive_in_force_at_the_payment(client: httpx.AsyncClient, bus: Bus) -> None:
    later, plain, former = unique("later-"), unique("plain-"), unique("former-")
    now = datetime.now(UTC)
    await flag(bus, later, locomotive=True, effective_at=now + timedelta(days=1))  # from tomorrow on
    await flag(bus, former, locomotive=True, effective_at=now - timedelta(days=60))
    await flag(bus, former, locomotive=False, effective_at=now - timedelta(days=10))  # no longer one
    customer = await managed_customer(client, manager=None)
    marker = unique("marker-")
    await flag(bus, marker, locomotive=True, effective_at=now - timedelta(days=5))
    await asyncio.sleep(1.0)
    for product in (later, plain, former):
        await paid(bus, unique("o-"), customer, [_line(1, product, "Stapler")], now - timedelta(minutes=5))
    # An old sale of a locomotive (imported history) is past its moment; a recent one is followed up,
    # for the sales employee since the customer has no manager.
    await paid(bus, unique("o-old-"), customer, [_line(1, marker, "Toner 12A")], now - timedelta(days=4, hours=1)
               - timedelta(days=30))
    last = unique("o-")
    await paid(bus, last, customer, [_line(1, marker, "Toner 12A")], now - timedelta(minutes=1))

    async def only_the_last() -> None:
        items = await agenda(client, customer)
        assert [(c["order_id"], c["employee_id"]) for c in items] == [(last, "emp-seller")], items

    await eventually(only_the_last)


async def test_a_cancellation_arriving_first_leaves_nothing_to_schedule(client: httpx.AsyncClient, bus: Bus) -> None:
    toner = unique("toner-")
    await flag(bus, toner, locomotive=True, effective_at=datetime.now(UTC) - timedelta(days=3))
    customer = await managed_customer(client)
    order_id, lines = unique("o-"), [_line(1, toner, "Toner 12A")]
    await asyncio.sleep(1.0)
    await cancelled(bus, order_id, customer, lines, datetime.now(UTC))
    await paid(bus, order_id, customer, lines, datetime.now(UTC) - timedelta(minutes=30))
    witness = unique("o-")
    await paid(bus, witness, customer, lines, datetime.now(UTC) - timedelta(minutes=1))

    async def only_the_witness() -> None:
        assert [c["order_id"] for c in await agenda(client, customer)] == [witness]

    await eventually(only_the_witness)


async def test_a_partnership_at_risk_gets_one_open_retention_call(client: httpx.AsyncClient, bus: Bus,
                                                                  event_log: EventLog) -> None:
    customer = await managed_customer(client, manager="emp-keeper")
    for _ in range(3):
        await at_risk(bus, customer, "emp-keeper")

    async def one_open() -> dict[str, Any]:
        items = [c for c in await agenda(client, customer) if c["reason"] == "retention"]
        assert len(items) == 1 and items[0]["status"] == "scheduled", items
        return items[0]

    call = await eventually(one_open)
    assert call["employee_id"] == "emp-keeper" and "at risk" in call["topic"]
    await asyncio.sleep(1.0)
    await one_open()
    done = await client.post(f"/consultations/{call['id']}/complete", json={"outcome": "agreed a new price list"},
                             headers=SUPPORT)
    assert done.status_code == 200, done.text
    # Once the call took place, the next at-risk news calls for a new one.
    await at_risk(bus, customer, "emp-keeper")

    async def a_second() -> None:
        items = [c for c in await agenda(client, customer) if c["reason"] == "retention"]
        assert sorted(c["status"] for c in items) == ["completed", "scheduled"], items

    await eventually(a_second)
    await event_log.wait_for(lambda r: r.type == "customers.consultation.scheduled"
                             and r.payload["customer_id"] == customer and r.payload["reason"] == "retention", count=2)


async def test_merging_two_customers_with_open_retention_calls_keeps_one(client: httpx.AsyncClient,
                                                                         bus: Bus) -> None:
    survivor, duplicate = await managed_customer(client, "emp-a"), await managed_customer(client, "emp-b")
    await at_risk(bus, survivor, "emp-a")
    await at_risk(bus, duplicate, "emp-b")

    async def both_open() -> None:
        for customer in (survivor, duplicate):
            assert [c["status"] for c in await agenda(client, customer) if c["reason"] == "retention"] == [
                "scheduled"]

    await eventually(both_open)
    merged = await client.post(f"/customers/{survivor}/merge", json={"duplicate_id": duplicate}, headers=MANAGER)
    assert merged.status_code == 200, merged.text
    calls = [c for c in await agenda(client, survivor) if c["reason"] == "retention"]
    assert sorted((c["employee_id"], c["status"]) for c in calls) == [("emp-a", "scheduled"), ("emp-b", "cancelled")]
    # News about the merged duplicate reaches the survivor, which already has its open call.
    await at_risk(bus, duplicate, "emp-b")
    await asyncio.sleep(1.5)
    assert len([c for c in await agenda(client, survivor) if c["status"] == "scheduled"]) == 1


async def test_a_consultation_created_by_staff_is_manual_and_a_bad_filter_is_refused(
        client: httpx.AsyncClient) -> None:
    customer = await managed_customer(client)
    created = await client.post(f"/customers/{customer}/consultations", headers=SUPPORT, json={
        "topic": "Show the new catalogue", "due_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()})
    assert created.status_code == 201, created.text
    assert (created.json()["reason"], created.json()["order_id"]) == ("manual", None)
    assert_problem(await client.get("/consultations", params={"customer_id": customer, "status": "lost"},
                                    headers=SUPPORT), 422)
    assert uuid.UUID(created.json()["id"])
