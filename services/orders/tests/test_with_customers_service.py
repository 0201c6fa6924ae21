"""Orders with the real customers service: the replica fed by its events, and the HTTP fallback.

The customers app runs over a database of its own. With its bus on, its events reach the orders
consumer through the real broker; with its bus off and served on a loopback port, nothing
arrives and orders must ask it over HTTP (and refuse to guess when it cannot).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.customers.app import create_app as create_customers_app
from services.customers.config import CustomersSettings
from services.orders.app import create_app
from services.orders.config import OrdersSettings
from services.orders.customers_client import HttpCustomerDirectory
from services.orders.models import CustomerReplica
from services.orders.tests.conftest import (
    ANALYST,
    CUSTOMERS_TOPIC,
    MANAGER,
    SUPPORT,
    EventLog,
    assert_problem,
    create_product,
    loyalty_of,
    order_body,
    pay,
    place,
    put_program,
    settings_for,
)
from shared.events.envelope import EventEnvelope
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client, free_port, served
from shared.testing.erasure import PersonalData, assert_erased
from shared.testing.infra import PostgresServer

pytestmark = pytest.mark.integration


def customer_body(name: str = "Toko Buku Sinar") -> dict[str, Any]:
    return {"kind": "company", "name": name, "emails": [f"c.{uuid.uuid4().hex[:12]}@example.com"],
            "segment": "retail shops"}


async def register(customers: httpx.AsyncClient) -> str:
    response = await customers.post("/customers", json=customer_body(), headers=MANAGER)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def replica_row(app: FastAPI, customer_id: str) -> CustomerReplica | None:
    async with app.state.runtime.db.transaction() as session:
        return await session.get(CustomerReplica, customer_id)


async def wait_replica(app: FastAPI, customer_id: str, *, status: str | None = None, segment: str | None = None,
                       timeout: float = 30.0) -> CustomerReplica:
    deadline = time.monotonic() + timeout
    while True:
        row = await replica_row(app, customer_id)
        if row is not None and (status is None or row.status == status) and (segment is None or row.segment == segment):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"replica of {customer_id} never reached status={status} segment={segment}: {row}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def customers_db(postgres: PostgresServer) -> str:
    return postgres.async_url(await postgres.create_database(prefix="customers"))


# ----- the replica, fed by events -------------------------------------------------------------

@pytest.fixture(scope="module")
async def both(customers_db: str, module_database_url: str,
               topics: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI]]:
    """The real customers app with its bus on, and orders whose HTTP fallback points at nothing."""
    customers_app = create_customers_app(CustomersSettings(database_url=customers_db, kafka_bootstrap=topics,
                                                           relay_idle_seconds=0.2), staff_lookup=AnyEmployee())
    closed = f"http://127.0.0.1:{free_port()}"  # HTTP would fail: only events can teach orders
    orders_app = create_app(settings_for(module_database_url, topics, customers_url=closed), staff_lookup=AnyEmployee())
    async with app_client(customers_app) as customers, app_client(orders_app) as orders:
        yield customers, orders, orders_app


async def test_customers_events_feed_the_replica_and_refusals_follow_them(
        both: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI], event_log: EventLog) -> None:
    customers, orders, orders_app = both
    await put_program(orders)
    product = await create_product(orders, price="1000.00", cost="650.00")

    customer = await register(customers)
    row = await wait_replica(orders_app, customer)
    # No personal copy: the events carry no name, and the replica keeps none.
    assert (row.status, row.name, row.segment, row.source) == ("active", None, "retail shops", "event")
    await place(orders, customer, (product, 1))

    moved = await customers.patch(f"/customers/{customer}", json={"segment": "wholesale"}, headers=MANAGER)
    assert moved.status_code == 200
    await wait_replica(orders_app, customer, segment="wholesale")

    erased = await customers.post(f"/customers/{customer}/erase", headers=SUPPORT)
    assert erased.status_code == 200
    row = await wait_replica(orders_app, customer, status="erased")
    assert row.name is None  # personal data dropped from the replica too
    assert_problem(await orders.post("/orders", json=order_body(customer, (product, 1)), headers=MANAGER),
                   410, "customer-erased")
    # Orders already placed stay on the books (they hold no personal data).
    assert len((await orders.get(f"/customers/{customer}/orders", headers=ANALYST)).json()["items"]) == 1

    survivor, duplicate = await register(customers), await register(customers)
    await wait_replica(orders_app, survivor)
    await wait_replica(orders_app, duplicate)
    bought = await place(orders, duplicate, (product, 1))
    await pay(orders, bought["id"])  # the duplicate reaches silver
    assert (await loyalty_of(orders, duplicate))["tier"]["name"] == "silver"
    merged = await customers.post(f"/customers/{survivor}/merge", json={"duplicate_id": duplicate}, headers=MANAGER)
    assert merged.status_code == 200, merged.text
    row = await wait_replica(orders_app, duplicate, status="merged")
    assert row.merged_into_id == survivor
    refused = assert_problem(await orders.post("/orders", json=order_body(duplicate, (product, 1)), headers=MANAGER),
                             409, "customer-merged")
    assert refused["survivor_id"] == survivor
    # The duplicate's purchases now count for the survivor, whose next order gets the discount.
    status = await loyalty_of(orders, survivor)
    assert (status["lifetime_spend"], status["tier"]["name"]) == ("1000.00", "silver")
    later = await place(orders, survivor, (product, 1))
    assert later["discount"] == "50.00"
    # The survivor's history is whole: the duplicate's order is listed under it, placed for the duplicate.
    for path, params in ((f"/customers/{survivor}/orders", {}), ("/orders", {"customer_id": survivor})):
        listed = (await orders.get(path, params=params, headers=ANALYST)).json()["items"]
        assert [(o["id"], o["customer_id"]) for o in listed] == [(later["id"], survivor), (bought["id"], duplicate)]
    change = await event_log.wait_type("orders.loyalty.tier_changed", customer_id=survivor, reason="merge")
    assert change[0].payload["tier"] == "silver"


async def test_every_manager_assignment_reaches_the_replica(
        both: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI]) -> None:
    customers, _orders, orders_app = both
    team = [f"emp-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    wanted: dict[str, str] = {}
    for n in range(20):
        customer = await register(customers)
        for employee in team[: 1 + n % 3]:  # some are reassigned once or twice
            response = await customers.put(f"/customers/{customer}/manager", json={"employee_id": employee},
                                           headers=MANAGER)
            assert response.status_code == 200, response.text
        wanted[customer] = team[n % 3]
    deadline = time.monotonic() + 30
    while True:
        rows = {cid: await replica_row(orders_app, cid) for cid in wanted}
        held = {cid: row.manager_id if row else None for cid, row in rows.items()}
        if held == wanted:
            break
        if time.monotonic() > deadline:
            wrong = {cid: (held[cid], manager) for cid, manager in wanted.items() if held[cid] != manager}
            raise AssertionError(f"{len(wrong)} of {len(wanted)} replicas hold the wrong manager: {wrong}")
        await asyncio.sleep(0.2)
    assert all(row is not None and row.revision == 1 + 1 + n % 3 for n, row in enumerate(rows.values()))


async def test_an_erasure_arriving_from_customers_leaves_no_personal_data_in_orders(
        both: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI], customers_db: str, module_database_url: str,
        event_log: EventLog) -> None:
    customers, orders, orders_app = both
    tag = uuid.uuid4().hex[:8]
    typed_phone = f"0813{int(tag, 16) % 10**8:08d}"
    registered = await customers.post("/customers", headers=MANAGER, json={
        "kind": "person", "name": f"Dewi Anggraini {tag}", "emails": [f"dewi.{tag}@example.org"],
        "phones": [typed_phone], "address": {"line1": f"Jl. Cihampelas {tag} 12", "city": "Bandung", "country": "ID"}})
    assert registered.status_code == 201, registered.text
    customer = registered.json()
    person = PersonalData.of_customer(customer, also=[typed_phone])
    cid, email, street = customer["id"], customer["emails"][0], customer["address"]["line1"]
    await wait_replica(orders_app, cid)
    product = await create_product(orders, price="1000.00", cost="650.00")

    body = order_body(cid, (product, 3), note=f"deliver to {street}, ring {typed_phone}")
    placed = await orders.post("/orders", json=body, headers={**MANAGER, "Idempotency-Key": f"form-{tag}"})
    assert placed.status_code == 201, placed.text
    kept = placed.json()
    paid = await orders.post(f"/orders/{kept['id']}/pay", headers=MANAGER,
                             json={"method": "bank_transfer", "reference": f"BCA from {customer['name']}"})
    assert paid.status_code == 200, paid.text
    returned = await orders.post(f"/orders/{kept['id']}/returns", headers={**MANAGER, "Idempotency-Key": f"rma-{tag}"},
                                 json={"lines": [{"product_id": product["id"], "quantity": 1}],
                                       "reason": f"{customer['name']} says the box was wet"})
    assert returned.status_code == 201, returned.text
    dropped = await place(orders, cid, (product, 1), note=f"mail the invoice to {email}")
    cancelled = await orders.post(f"/orders/{dropped['id']}/cancel", headers=MANAGER,
                                  json={"reason": f"{customer['name']} moved away"})
    assert cancelled.status_code == 200, cancelled.text
    figures = (await orders.get(f"/orders/{kept['id']}", headers=ANALYST)).json()

    erased = await customers.post(f"/customers/{cid}/erase", headers=SUPPORT)
    assert erased.status_code == 200, erased.text
    await wait_replica(orders_app, cid, status="erased")

    after = (await orders.get(f"/orders/{kept['id']}", headers=ANALYST)).json()
    assert (after["note"], after["payment_reference"]) == ("[erased]", "[erased]")
    assert {k: v for k, v in after.items() if k not in ("note", "payment_reference", "updated_at")} == {
        k: v for k, v in figures.items() if k not in ("note", "payment_reference", "updated_at")}
    assert [r["reason"] for r in (await orders.get(f"/orders/{kept['id']}/returns", headers=ANALYST)).json()] == [
        "[erased]"]
    assert (await orders.get(f"/orders/{dropped['id']}", headers=ANALYST)).json()["cancel_reason"] == "[erased]"
    # A retried request still gets its first answer, without the personal data.
    replay = await orders.post("/orders", json=body, headers={**MANAGER, "Idempotency-Key": f"form-{tag}"})
    assert (replay.status_code, replay.json()["id"], replay.json()["note"]) == (201, kept["id"], "[erased]")

    since = erased.json()["erased_at"]
    await assert_erased(module_database_url, person, since=since, events=event_log.records)
    await assert_erased(customers_db, person, since=since)


async def test_stale_and_repeated_customer_events_change_nothing(
        both: tuple[httpx.AsyncClient, httpx.AsyncClient, FastAPI], topics: str) -> None:
    _, orders, orders_app = both
    customer = str(uuid.uuid4())
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    snapshot = {"customer_id": customer, "kind": "person", "status": "active",
                "manager_id": None, "preferred_channel": None, "created_at": t0.isoformat()}

    def envelope(event_type: str, at: datetime, payload: dict[str, Any]) -> EventEnvelope:
        version = 1 if event_type == "customers.customer.erased" else 2
        return EventEnvelope(event_id=uuid.uuid4(), type=event_type, version=version, occurred_at=at,
                             producer="customers",
                             aggregate_id=customer, customer_id=customer, correlation_id=str(uuid.uuid4()),
                             payload=payload)

    newer = envelope("customers.customer.updated", t0 + timedelta(minutes=2),
                     {**snapshot, "segment": "new", "changed_fields": ["segment"]})
    older = envelope("customers.customer.registered", t0,
                     {**snapshot, "segment": "old", "first_contact_channel": None})
    erased = envelope("customers.customer.erased", t0 + timedelta(minutes=3),
                      {"customer_id": customer, "erased_at": (t0 + timedelta(minutes=3)).isoformat()})
    after_erasure = envelope("customers.customer.updated", t0 + timedelta(minutes=4),
                             {**snapshot, "segment": "back?", "changed_fields": ["segment"]})
    producer = AIOKafkaProducer(bootstrap_servers=topics, enable_idempotence=True)
    await producer.start()
    try:
        async def send(env: EventEnvelope) -> None:
            await producer.send_and_wait(CUSTOMERS_TOPIC, env.to_bytes(), key=customer.encode())

        await send(newer)
        await send(older)  # arrives late: must not overwrite the newer state
        await send(newer)  # redelivered: the inbox absorbs it
        marker = str(uuid.uuid4())  # a later event on another key tells us the consumer got this far
        await producer.send_and_wait(CUSTOMERS_TOPIC, EventEnvelope(
            event_id=uuid.uuid4(), type="customers.customer.registered", version=2, occurred_at=datetime.now(UTC),
            producer="customers", aggregate_id=marker, customer_id=marker, correlation_id="m",
            payload={**snapshot, "customer_id": marker, "segment": "marker",
                     "first_contact_channel": None}).to_bytes(), key=customer.encode())
        await wait_replica(orders_app, marker)
        row = await replica_row(orders_app, customer)
        assert row is not None and (row.segment, row.status) == ("new", "active")
        assert row.state_at == newer.occurred_at

        await send(erased)
        await send(after_erasure)  # even a newer snapshot never resurrects an erased customer
        await send(older)
        await wait_replica(orders_app, customer, status="erased")
        await producer.send_and_wait(CUSTOMERS_TOPIC, EventEnvelope(
            event_id=uuid.uuid4(), type="customers.customer.erased", version=1, occurred_at=datetime.now(UTC),
            producer="customers", aggregate_id=marker, customer_id=marker, correlation_id="m",
            payload={"customer_id": marker, "erased_at": datetime.now(UTC).isoformat()}).to_bytes(),
            key=customer.encode())
        await wait_replica(orders_app, marker, status="erased")
        row = await replica_row(orders_app, customer)
        assert row is not None and (row.status, row.name) == ("erased", None)
    finally:
        await producer.stop()
    product = await create_product(orders)
    assert_problem(await orders.post("/orders", json=order_body(customer, (product, 1)), headers=MANAGER), 410)


# ----- the HTTP fallback --------------------------------------------------------------------------

async def test_http_fallback_accepts_a_customer_whose_event_has_not_arrived(
        customers_db: str, database_url: str, topics: str) -> None:
    customers_app = create_customers_app(CustomersSettings(database_url=customers_db, kafka_bootstrap=topics,
                                                           bus_enabled=False), staff_lookup=AnyEmployee())
    port = free_port()
    orders_app = create_app(settings_for(database_url, topics, customers_url=f"http://127.0.0.1:{port}",
                                         customers_timeout_seconds=2.0, bus_enabled=False), staff_lookup=AnyEmployee())
    async with app_client(orders_app) as orders:
        product = await create_product(orders)
        async with served(customers_app, port=port) as customers_url:
            async with httpx.AsyncClient(base_url=customers_url) as customers:
                customer = await register(customers)  # no event will ever arrive (bus off)
                gone, survivor, duplicate = (await register(customers), await register(customers),
                                             await register(customers))
                assert (await customers.post(f"/customers/{gone}/erase", headers=SUPPORT)).status_code == 200
                assert (await customers.post(f"/customers/{survivor}/merge", json={"duplicate_id": duplicate},
                                             headers=MANAGER)).status_code == 200

            order = await place(orders, customer, (product, 2))
            assert order["customer_id"] == customer
            row = await replica_row(orders_app, customer)
            assert row is not None and (row.source, row.status, row.name) == ("http", "active", None)

            assert_problem(await orders.post("/orders", json=order_body(gone, (product, 1)), headers=MANAGER),
                           410, "customer-erased")
            merged = assert_problem(await orders.post("/orders", json=order_body(duplicate, (product, 1)),
                                                      headers=MANAGER), 409, "customer-merged")
            assert merged["survivor_id"] == survivor
            assert_problem(await orders.post("/orders", json=order_body(str(uuid.uuid4()), (product, 1)),
                                             headers=MANAGER), 422, "customer-unknown")

        # The customers service is down now: known customers still order, unknown ones are not guessed at.
        started = time.monotonic()
        await place(orders, customer, (product, 1))
        unknown = str(uuid.uuid4())
        down = assert_problem(await orders.post("/orders", json=order_body(unknown, (product, 1)), headers=MANAGER),
                              503, "dependency-unavailable")
        assert down["customer_id"] == unknown
        assert time.monotonic() - started < 5
        assert await replica_row(orders_app, unknown) is None
        assert len((await orders.get(f"/customers/{unknown}/orders", headers=ANALYST)).json()["items"]) == 0


async def test_http_fallback_refuses_when_the_customers_service_rejects_or_stalls(
        customers_db: str, database_url: str, topics: str) -> None:
    customers_app = create_customers_app(CustomersSettings(database_url=customers_db, kafka_bootstrap=topics,
                                                           bus_enabled=False), staff_lookup=AnyEmployee())
    async with served(customers_app) as customers_url:
        async with httpx.AsyncClient(base_url=customers_url) as customers:
            customer = await register(customers)
        # Wrong credentials: the customers service says 401; orders cannot verify, so 503.
        wrong_token = create_app(settings_for(database_url, topics, customers_url=customers_url,
                                              customers_token="not-a-token", bus_enabled=False),
                                 staff_lookup=AnyEmployee())
        async with app_client(wrong_token) as orders:
            product = await create_product(orders)
            body = assert_problem(await orders.post("/orders", json=order_body(customer, (product, 1)),
                                                    headers=MANAGER), 503)
            assert body["dependency_status"] == 401

    # A peer that accepts the connection and never answers: the short timeout decides.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stalled = create_app(settings_for(database_url, topics, customers_url=f"http://127.0.0.1:{port}",
                                      customers_timeout_seconds=0.5, bus_enabled=False), staff_lookup=AnyEmployee())
    try:
        async with app_client(stalled) as orders:
            product = await create_product(orders)
            started = time.monotonic()
            assert_problem(await orders.post("/orders", json=order_body(str(uuid.uuid4()), (product, 1)),
                                             headers=MANAGER), 503)
            assert time.monotonic() - started < 2.5
    finally:
        server.close()


async def test_http_fallback_reads_the_revision_and_takes_an_id_customers_refuses_as_unknown(
        customers_db: str, topics: str) -> None:
    customers_app = create_customers_app(CustomersSettings(database_url=customers_db, kafka_bootstrap=topics,
                                                           bus_enabled=False), staff_lookup=AnyEmployee())
    async with app_client(customers_app) as customers:
        customer = await register(customers)
        renamed = await customers.patch(f"/customers/{customer}", json={"name": "Toko Baru"}, headers=MANAGER)
        assert renamed.status_code == 200 and renamed.json()["revision"] == 2
        directory = HttpCustomerDirectory(OrdersSettings(customers_url="http://customers"),
                                          transport=httpx.ASGITransport(app=customers_app))
        facts = await directory.lookup(customer)
        assert facts is not None and (facts.name, facts.revision) == ("Toko Baru", 2)
        assert await directory.lookup("a" * 37) is None  # customers answers 422: it could never be an id
        assert await directory.lookup(str(uuid.uuid4())) is None
