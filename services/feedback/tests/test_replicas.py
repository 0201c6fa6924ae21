"""Replicas fed by the owners' real events on the real topics: customers, orders and products, the
staff directory; merges re-key cases to the survivor; erasure anonymises every free text and keeps
the figures; a redelivered event changes nothing.

Envelopes are published to ``customers.events``, ``orders.events`` and ``incentives.events``
exactly as those services' relays publish them (keyed, with the event headers). The owners' HTTP
fallback is "down" throughout: every fact must come from the events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from services.feedback.models import (
    CaseActivity,
    CustomerReplica,
    EmployeeReplica,
    OrderReplica,
    ProductReplica,
)
from services.feedback.tests.conftest import (
    CUSTOMERS_TOPIC,
    INCENTIVES_TOPIC,
    MANAGER,
    ORDERS_TOPIC,
    SUPPORT,
    FakeOwners,
    assert_problem,
    command,
    envelope,
    get_case,
    open_case,
    publish,
    reply,
    resolve,
)
from shared.testing.erasure import PersonalData, assert_erased
from shared.testing.events import EventLog

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def owners() -> FakeOwners:
    down = FakeOwners()
    down.down = True
    return down


def database(client: httpx.AsyncClient) -> Any:
    return client._transport.app.state.runtime.db  # type: ignore[attr-defined]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.2)


def registered(customer_id: str, *, segment: str = "retail", name: str = "Toko Sinar", revision: int = 1,
               at: datetime | None = None) -> Any:
    at = at or datetime.now(UTC)
    return envelope("customers.customer.registered", {
        "customer_id": customer_id, "kind": "company", "name": name, "segment": segment, "status": "active",
        "manager_id": None, "preferred_channel": None, "tags": [], "created_at": at.isoformat(), "revision": revision,
        "source": None, "first_contact_channel": None}, key=customer_id, customer_id=customer_id, at=at)


async def known_customer(client: httpx.AsyncClient, customer_id: str, **values: Any) -> bool:
    async with database(client).transaction() as session:
        row = await session.get(CustomerReplica, customer_id, populate_existing=True)
        return row is not None and all(getattr(row, k) == v for k, v in values.items())


async def register(client: httpx.AsyncClient, producer: AIOKafkaProducer, **kwargs: Any) -> str:
    customer_id = str(uuid.uuid4())
    await publish(producer, CUSTOMERS_TOPIC, registered(customer_id, **kwargs))
    await eventually(lambda: known_customer(client, customer_id))
    return customer_id


def order_event(event_type: str, order_id: str, customer_id: str, products: list[str], status: str) -> Any:
    now = datetime.now(UTC).isoformat()
    amounts = {"gross": "100.00", "discount": "0.00", "net": "100.00", "cost": "60.00", "margin": "40.00"}
    lines = [{"line_no": n, "product_id": p, "sku": f"SKU-{n}", "name": "Kertas", "category": "paper",
              "quantity": 1, "unit_price": "100.00", "unit_cost": "60.00", "discount_percent": "0", **amounts}
             for n, p in enumerate(products, 1)]
    payload = {"order_id": order_id, "customer_id": customer_id, "sales_employee_id": "emp-s", "channel": "store",
               "currency": "IDR", "status": status, "loyalty_tier": None, "discount_percent": "0", "lines": lines,
               "placed_at": now, **amounts}
    payload |= {"placed_by": "mgr"} if event_type.endswith("placed") else {"paid_at": now, "payment_method": None,
                                                                           "payment_reference": None}
    return envelope(event_type, payload, key=customer_id, customer_id=customer_id)


def product_event(product_id: str, *, active: bool = True) -> Any:
    return envelope("orders.product.created", {
        "product_id": product_id, "sku": product_id.upper(), "name": "Tinta printer", "category": "printing",
        "unit_price": "250.00", "unit_cost": "150.00", "currency": "IDR", "active": active,
        "price_effective_at": datetime.now(UTC).isoformat()}, key=product_id)


def employee_event(event_type: str, employee_id: str, *, role: str = "support", active: bool = True) -> Any:
    payload = {"employee_id": employee_id, "name": f"Staff {employee_id}", "role": role, "team": None,
               "email": None, "hired_on": "2024-01-02", "left_on": None if active else "2026-11-30",
               "active": active}
    if event_type.endswith("updated"):
        payload["changed_fields"] = ["role"]
    return envelope(event_type, payload, key=employee_id)


async def test_customers_orders_and_products_come_from_their_events(client: httpx.AsyncClient, owners: FakeOwners,
                                                                    producer: AIOKafkaProducer) -> None:
    customer = await register(client, producer, segment="wholesale")
    order_id, product = f"ord-{uuid.uuid4().hex[:8]}", f"prd-{uuid.uuid4().hex[:8]}"
    await publish(producer, ORDERS_TOPIC, product_event(product))
    await publish(producer, ORDERS_TOPIC, order_event("orders.order.placed", order_id, customer, [product], "placed"))
    await publish(producer, ORDERS_TOPIC, order_event("orders.order.paid", order_id, customer, [product], "paid"))

    async def replicated() -> bool:
        async with database(client).transaction() as session:
            order = await session.get(OrderReplica, order_id, populate_existing=True)
            return order is not None and order.status == "paid" and \
                await session.get(ProductReplica, product, populate_existing=True) is not None

    await eventually(replicated)
    case = await open_case(client, customer, kind="claim", order_id=order_id, line_nos=[1], channel="email")
    assert case["product_id"] == product and case["priority"] == "high"
    standalone = await open_case(client, customer, product_id=product)
    assert standalone["product_id"] == product
    assert owners.calls == []  # nothing was asked over HTTP


async def test_a_stale_or_repeated_customer_event_changes_nothing(client: httpx.AsyncClient,
                                                                  producer: AIOKafkaProducer) -> None:
    customer = str(uuid.uuid4())
    now = datetime.now(UTC)
    newer = registered(customer, segment="corporate", revision=3, at=now)
    await publish(producer, CUSTOMERS_TOPIC, newer)
    await publish(producer, CUSTOMERS_TOPIC, newer)  # redelivered
    await publish(producer, CUSTOMERS_TOPIC, registered(customer, segment="retail", revision=2,
                                                        at=now + timedelta(seconds=5)))
    marker = str(uuid.uuid4())
    await publish(producer, CUSTOMERS_TOPIC, registered(marker))
    await eventually(lambda: known_customer(client, marker))  # everything before it was handled
    assert await known_customer(client, customer, segment="corporate", revision=3)


async def test_merges_rekey_cases_to_the_end_of_the_chain_in_any_order(client: httpx.AsyncClient,
                                                                      producer: AIOKafkaProducer,
                                                                      event_log: EventLog) -> None:
    first = await register(client, producer)
    middle = await register(client, producer)
    last = await register(client, producer)
    cases_of_first = [(await open_case(client, first))["id"] for _ in range(2)]
    case_of_middle = (await open_case(client, middle))["id"]

    def merged(duplicate: str, survivor: str) -> Any:
        return envelope("customers.customer.merged", {"survivor_id": survivor, "merged_id": duplicate,
                                                      "merged_at": datetime.now(UTC).isoformat(), "revision": 2},
                        key=duplicate, customer_id=duplicate)

    second_merge = merged(middle, last)  # the later merge arrives first (its own key, its own partition)
    await publish(producer, CUSTOMERS_TOPIC, second_merge)
    await eventually(lambda: known_customer(client, middle, status="merged"))
    first_merge = merged(first, middle)
    await publish(producer, CUSTOMERS_TOPIC, first_merge)
    await publish(producer, CUSTOMERS_TOPIC, first_merge)  # and once more: redelivery
    await eventually(lambda: known_customer(client, first, status="merged"))

    listed = (await client.get("/cases", params={"customer_id": last}, headers=SUPPORT)).json()["items"]
    assert sorted(c["id"] for c in listed) == sorted([*cases_of_first, case_of_middle])
    assert {c["original_customer_id"] for c in listed} == {first, middle}
    async with database(client).transaction() as session:
        moves = await session.scalar(sa.select(sa.func.count()).select_from(CaseActivity).where(
            CaseActivity.case_id.in_(cases_of_first), CaseActivity.kind == "customer_merged"))
    assert moves == 2  # once per case: the redelivered merge was absorbed
    assert_problem(await client.post("/cases", json={"kind": "comment", "customer_id": first, "channel": "web",
                                                     "subject": "s", "body": "b"}, headers=SUPPORT), 409)
    # Later events of a moved case are keyed by the survivor.
    await command(client, cases_of_first[0], "assign", {"assignee_id": "emp-m"})
    [assigned] = await event_log.wait_type("feedback.case.assigned", case_id=cases_of_first[0])
    assert assigned.key == last and assigned.payload["customer_id"] == last


async def test_erasure_anonymises_every_free_text_and_keeps_the_figures(client: httpx.AsyncClient,
                                                                       producer: AIOKafkaProducer,
                                                                       event_log: EventLog,
                                                                       module_database_url: str) -> None:
    name, email, phone = "Siti Rahayu Wibowo", f"siti.{uuid.uuid4().hex[:6]}@example.org", "+62 812 7777 1234"
    customer = await register(client, producer, name=name)
    case = await open_case(client, customer, subject=f"Complaint from {name}",
                           body=f"Call {phone} or write to {email}; address Jl. Melati 7", tags=[email])
    await command(client, case["id"], "assign", {"assignee_id": "emp-e"})
    await reply(client, case["id"], body=f"Dear {name}, we will call {phone}.")
    await reply(client, case["id"], kind="customer_message", body=f"This is {name}, my e-mail is {email}")
    await resolve(client, case["id"], text=f"Refund to {name}'s account", compensation="refund",
                  compensation_amount="125000.50")
    await command(client, case["id"], "rating", {"rating": 2, "comment": f"{name} is unhappy, {phone}"})

    erased_at = datetime.now(UTC)
    erasure = envelope("customers.customer.erased", {"customer_id": customer, "erased_at": erased_at.isoformat(),
                                                     "revision": 5}, key=customer, customer_id=customer)
    await publish(producer, CUSTOMERS_TOPIC, erasure)
    await publish(producer, CUSTOMERS_TOPIC, erasure)
    await eventually(lambda: known_customer(client, customer, status="erased"))

    person = PersonalData(name=name, emails=(email,), phones=(phone,), address=("Jl. Melati 7",))
    await assert_erased(module_database_url, person, since=erased_at, events=event_log.records)
    kept = await get_case(client, case["id"])
    assert kept["subject"] == kept["body"] == "[erased]" and kept["tags"] == []
    assert kept["status"] == "resolved" and kept["sla"]["first_response"]["run"] == "stopped"
    [resolution] = kept["resolutions"]
    assert resolution["compensation_amount"] == "125000.50" and resolution["rating"] == 2
    assert resolution["rating_comment"] is None and resolution["text"] == "[erased]"
    assert all(r["body"] == "[erased]" for r in kept["responses"])
    stats = (await client.get("/cases/stats", headers=MANAGER)).json()
    assert any(c["compensation"] == "refund" for c in stats["compensation"])
    assert_problem(await client.post("/cases", json={"kind": "comment", "customer_id": customer, "channel": "web",
                                                     "subject": "s", "body": "b"}, headers=SUPPORT), 410)


async def test_the_staff_directory_verifies_employees(client: httpx.AsyncClient, owners: FakeOwners,
                                                     producer: AIOKafkaProducer) -> None:
    customer = await register(client, producer)
    known, leaving = f"emp-{uuid.uuid4().hex[:6]}", f"emp-{uuid.uuid4().hex[:6]}"
    case = await open_case(client, customer, assignee_id=known)
    assert case["assignee_verified"] is True  # the replica had not heard of them: asked for and kept
    await publish(producer, INCENTIVES_TOPIC, employee_event("incentives.employee.hired", known))
    await publish(producer, INCENTIVES_TOPIC, employee_event("incentives.employee.hired", leaving))
    await publish(producer, INCENTIVES_TOPIC, employee_event("incentives.employee.left", leaving, active=False))

    async def verified() -> bool:
        return (await get_case(client, case["id"]))["assignee_verified"] is True

    async def has_left() -> bool:
        async with database(client).transaction() as session:
            row = await session.get(EmployeeReplica, leaving, populate_existing=True)
            return row is not None and not row.active

    await eventually(verified)
    await eventually(has_left)
    refused = await client.post(f"/cases/{case['id']}/assign", json={"assignee_id": leaving}, headers=SUPPORT)
    assert_problem(refused, 422)
    assert (await get_case(client, case["id"]))["assignee_id"] == known
