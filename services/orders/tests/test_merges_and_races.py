"""Merges, erasures and program changes meeting payments and orders, on the real PostgreSQL.

The customers events are handed to the handlers directly, each in a transaction of its own, so a
test can hold one open (a merge being applied, a program being replaced) while requests race it,
and can deliver merges of one chain in either order (they have different keys, so different
partitions: the order they arrive in is not the order customers made them in).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.orders.app import create_app
from services.orders.handlers import customer_erased, customer_merged, customer_snapshot, manager_assigned
from services.orders.models import CustomerReplica, LoyaltyAccount, LoyaltyEntry
from services.orders.schemas import ProgramUpdate
from services.orders.tests.conftest import (
    ANALYST,
    MANAGER,
    TIERS,
    FakeDirectory,
    assert_problem,
    create_product,
    loyalty_of,
    order_body,
    pay,
    place,
    put_program,
    settings_for,
)
from services.orders.use_cases import loyalty as loyalty_cases
from shared.bus.tables import OutboxMessage
from shared.events.envelope import EventEnvelope
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

pytestmark = pytest.mark.integration

D = Decimal
HELD = 1.0  # how long a racing request is left waiting on the open transaction


def envelope(event_type: str, customer_id: str, payload: dict[str, Any], at: datetime) -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), type=event_type, version=1, occurred_at=at, producer="customers",
                         aggregate_id=customer_id, customer_id=customer_id, correlation_id=str(uuid.uuid4()),
                         payload=payload)


def merged_event(merged_id: str, survivor_id: str, at: datetime | None = None) -> EventEnvelope:
    at = at or datetime.now(UTC)
    return envelope("customers.customer.merged", merged_id,
                    {"survivor_id": survivor_id, "merged_id": merged_id, "merged_at": at.isoformat()}, at)


def erased_event(customer_id: str, at: datetime | None = None) -> EventEnvelope:
    at = at or datetime.now(UTC)
    return envelope("customers.customer.erased", customer_id,
                    {"customer_id": customer_id, "erased_at": at.isoformat()}, at)


def snapshot_event(customer_id: str, segment: str, at: datetime, revision: int | None,
                   manager_id: str | None = None) -> EventEnvelope:
    """A version-2 snapshot; ``segment`` tells which snapshot the replica applied."""
    payload: dict[str, Any] = {
        "customer_id": customer_id, "kind": "company", "segment": segment, "status": "active",
        "manager_id": manager_id, "preferred_channel": None, "created_at": at.isoformat(),
        "changed_fields": ["segment"]}
    if revision is not None:
        payload["revision"] = revision
    return envelope("customers.customer.updated", customer_id, payload, at).model_copy(update={"version": 2})


def manager_event(customer_id: str, employee_id: str, at: datetime, revision: int | None) -> EventEnvelope:
    payload: dict[str, Any] = {"customer_id": customer_id, "employee_id": employee_id, "previous_employee_id": None,
                               "assigned_by": "mgr-1", "assigned_at": at.isoformat()}
    if revision is not None:
        payload["revision"] = revision
    return envelope("customers.manager.assigned", customer_id, payload, at)


@pytest.fixture
async def app(database_url: str, topics: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, FakeDirectory]]:
    """An app of this test's own (empty database, its own program), consumer off: events come by hand."""
    directory = FakeDirectory()
    orders_app = create_app(settings_for(database_url, topics, bus_enabled=False), customer_directory=directory,
                            staff_lookup=AnyEmployee())
    async with app_client(orders_app) as client:
        yield orders_app, client, directory


async def deliver(app: FastAPI, handler: Any, event: EventEnvelope) -> None:
    async with app.state.runtime.db.transaction() as session:
        await handler(session, event)


async def accounts(app: FastAPI) -> dict[str, tuple[Decimal, str | None]]:
    async with app.state.runtime.db.transaction() as session:
        rows = (await session.execute(select(LoyaltyAccount))).scalars()
        return {r.customer_id: (r.balance, r.merged_into_id) for r in rows}


async def entries_of(app: FastAPI, customer_id: str) -> list[LoyaltyEntry]:
    async with app.state.runtime.db.transaction() as session:
        return list((await session.execute(
            select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id))).scalars())


async def tier_events(app: FastAPI, customer_id: str) -> list[str]:
    async with app.state.runtime.db.transaction() as session:
        return list((await session.execute(
            select(OutboxMessage.event_id).where(OutboxMessage.event_type == "orders.loyalty.tier_changed",
                                                 OutboxMessage.key == customer_id))).scalars())


async def three_buyers(client: httpx.AsyncClient, directory: FakeDirectory) -> tuple[str, str, str, dict]:
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    a, b, c = directory.add(), directory.add(), directory.add()
    for customer in (a, b, c):
        await pay(client, (await place(client, customer, (product, 2)))["id"])  # 2000.00 each
    return a, b, c, product


# ----- merge chains (finding 1) -------------------------------------------------------------------

@pytest.mark.parametrize("arrival", ["as made", "reversed"])
async def test_a_merge_chain_keeps_every_purchase_whatever_order_its_merges_arrive_in(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory], arrival: str) -> None:
    orders_app, client, directory = app
    a, b, c, _ = await three_buyers(client, directory)
    t0 = datetime.now(UTC)
    a_into_b, b_into_c = merged_event(a, b, t0), merged_event(b, c, t0 + timedelta(seconds=1))
    for event in ([a_into_b, b_into_c] if arrival == "as made" else [b_into_c, a_into_b]):
        await deliver(orders_app, customer_merged, event)

    status = await loyalty_of(client, c)
    assert (D(status["lifetime_spend"]), status["tier"]["name"]) == (D("6000.00"), "gold")
    assert len(await entries_of(orders_app, c)) == 3
    held = await accounts(orders_app)
    # A's ledger went where B's was at the time: to B (then on to C), or straight to C.
    assert held[a] == (D("0.00"), b if arrival == "as made" else c) and held[b] == (D("0.00"), c)
    assert held[c] == (D("6000.00"), None)
    for retired in (a, b):
        assert_problem(await client.get(f"/loyalty/customers/{retired}", headers=ANALYST), 409, "customer-merged")


async def test_a_merge_into_a_survivor_being_merged_at_the_same_time_follows_it(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    """A->B is applied while B->C (B never bought anything) is still uncommitted: A's spend reaches C."""
    orders_app, client, directory = app
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    a, b, c = directory.add(), directory.add(), directory.add()
    await place(client, b, (product, 1))  # B is in the replica, but has no loyalty account
    await pay(client, (await place(client, a, (product, 2)))["id"])
    await pay(client, (await place(client, c, (product, 1)))["id"])

    async with orders_app.state.runtime.db.transaction() as session:
        await customer_merged(session, merged_event(b, c))
        racing = asyncio.create_task(deliver(orders_app, customer_merged, merged_event(a, b)))
        await asyncio.sleep(HELD)
    await racing

    assert D((await loyalty_of(client, c))["lifetime_spend"]) == D("3000.00")
    assert await entries_of(orders_app, b) == []


async def test_after_the_survivor_is_erased_a_duplicates_old_order_still_counts_for_the_survivor(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, client, directory = app
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    duplicate, survivor = directory.add(), directory.add()
    await pay(client, (await place(client, duplicate, (product, 1)))["id"])
    unpaid = await place(client, duplicate, (product, 2))  # placed before the merge, paid after the erasure
    await deliver(orders_app, customer_merged, merged_event(duplicate, survivor))
    # Erasing the survivor erases what was merged into it, each with its own event.
    await deliver(orders_app, customer_erased, erased_event(survivor))
    await deliver(orders_app, customer_erased, erased_event(duplicate))

    await pay(client, unpaid["id"])
    assert await entries_of(orders_app, duplicate) == []
    assert sorted(e.amount for e in await entries_of(orders_app, survivor)) == sorted([D("1000.00"), D(unpaid["net"])])
    # Reversals follow the accrual to the survivor as well.
    assert (await client.post(f"/orders/{unpaid['id']}/cancel", headers=MANAGER)).status_code == 200
    assert sum((e.amount for e in await entries_of(orders_app, survivor)), D("0")) == D("1000.00")


async def test_an_erasure_replayed_before_the_merge_still_records_whom_the_duplicate_went_to(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, client, directory = app
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    duplicate, survivor = directory.add(), directory.add()
    unpaid = await place(client, duplicate, (product, 1))
    await deliver(orders_app, customer_erased, erased_event(duplicate))  # a replayed dead letter, say
    await deliver(orders_app, customer_merged, merged_event(duplicate, survivor))
    async with orders_app.state.runtime.db.transaction() as session:
        row = await session.get(CustomerReplica, duplicate)
        assert row is not None and (row.status, row.merged_into_id, row.name) == ("erased", survivor, None)
    await pay(client, unpaid["id"])
    assert [e.amount for e in await entries_of(orders_app, survivor)] == [D("1000.00")]


@pytest.mark.parametrize("arrival", ["as made", "reversed"])
async def test_the_survivors_order_history_holds_every_order_of_its_merge_chain(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory], arrival: str) -> None:
    orders_app, client, directory = app
    product = await create_product(client)
    a, b, c, unrelated = directory.add(), directory.add(), directory.add(), directory.add()
    placed = {who: [(await place(client, who, (product, 1)))["id"] for _ in range(count)]
              for who, count in ((a, 2), (b, 1), (c, 1), (unrelated, 1))}
    await pay(client, placed[a][0])
    t0 = datetime.now(UTC)
    a_into_b, b_into_c = merged_event(a, b, t0), merged_event(b, c, t0 + timedelta(seconds=1))
    for event in ([a_into_b, b_into_c] if arrival == "as made" else [b_into_c, a_into_b]):
        await deliver(orders_app, customer_merged, event)

    async def history(path: str, **params: Any) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        cursor = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            response = await client.get(path, params=query, headers=ANALYST)
            assert response.status_code == 200, response.text
            seen += [(o["id"], o["customer_id"]) for o in response.json()["items"]]
            cursor = response.json()["next_cursor"]
            if not cursor:
                return seen

    newest_first = [(oid, who) for who in (c, b, a) for oid in reversed(placed[who])]  # placed a, a, b, c in turn
    assert await history(f"/customers/{c}/orders") == newest_first  # each order keeps whom it was placed for
    assert await history("/orders", customer_id=c, limit=1) == newest_first
    assert await history(f"/customers/{b}/orders") == newest_first[1:]
    assert await history(f"/customers/{a}/orders") == newest_first[2:]
    assert await history(f"/customers/{c}/orders", status="paid") == [(placed[a][0], a)]
    assert await history(f"/customers/{unrelated}/orders") == [(placed[unrelated][0], unrelated)]


# ----- payments and orders racing a merge (finding 2) -----------------------------------------------

async def test_a_payment_racing_the_merge_accrues_to_the_survivor(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, client, directory = app
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    duplicate, survivor = directory.add(), directory.add()
    await pay(client, (await place(client, duplicate, (product, 1)))["id"])  # the duplicate has an account
    unpaid = await place(client, duplicate, (product, 3))

    async with orders_app.state.runtime.db.transaction() as session:
        await customer_merged(session, merged_event(duplicate, survivor))
        paying = asyncio.create_task(client.post(f"/orders/{unpaid['id']}/pay", json={}, headers=MANAGER))
        await asyncio.sleep(HELD)
        assert not paying.done()  # it waits for the merge
    assert (await paying).status_code == 200

    assert await entries_of(orders_app, duplicate) == []
    status = await loyalty_of(client, survivor)
    assert (D(status["lifetime_spend"]), status["tier"]["name"]) == (D("1000.00") + D(unpaid["net"]), "silver")
    assert (await accounts(orders_app))[duplicate] == (D("0.00"), survivor)


async def test_a_payment_racing_the_merge_of_a_duplicate_without_an_account_accrues_to_the_survivor(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, client, directory = app
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    duplicate, survivor = directory.add(), directory.add()
    unpaid = await place(client, duplicate, (product, 3))  # its first purchase: no spend yet

    async with orders_app.state.runtime.db.transaction() as session:
        await customer_merged(session, merged_event(duplicate, survivor))
        paying = asyncio.create_task(client.post(f"/orders/{unpaid['id']}/pay", json={}, headers=MANAGER))
        await asyncio.sleep(HELD)
    assert (await paying).status_code == 200

    assert await entries_of(orders_app, duplicate) == []
    assert D((await loyalty_of(client, survivor))["lifetime_spend"]) == D("3000.00")


async def test_an_order_placed_while_its_customer_is_merged_is_refused_naming_the_survivor(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, client, directory = app
    await put_program(client)
    product = await create_product(client, price="1000.00", cost="1.00")
    duplicate, survivor = directory.add(), directory.add()
    await pay(client, (await place(client, duplicate, (product, 2)))["id"])  # the duplicate is silver
    announced = await tier_events(orders_app, duplicate)

    async with orders_app.state.runtime.db.transaction() as session:
        await customer_merged(session, merged_event(duplicate, survivor))
        placing = asyncio.create_task(client.post("/orders", json=order_body(duplicate, (product, 1)),
                                                  headers=MANAGER))
        await asyncio.sleep(HELD)
    refused = assert_problem(await placing, 409, "customer-merged")
    assert refused["survivor_id"] == survivor

    assert (await client.get(f"/customers/{duplicate}/orders", headers=ANALYST)).json()["items"][0]["status"] == "paid"
    assert await tier_events(orders_app, duplicate) == announced  # no tier change for the retired account
    assert (await loyalty_of(client, survivor))["tier"]["name"] == "silver"


# ----- the program changing under an order (finding 4) ---------------------------------------------

async def test_an_order_placed_while_the_program_changes_is_priced_with_the_new_program(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, client, directory = app
    await put_program(client)  # v1: silver 5 % from 1000
    product = await create_product(client, price="1000.00", cost="1.00")
    customer = directory.add()
    await pay(client, (await place(client, customer, (product, 2)))["id"])  # silver
    v2 = [dict(t) for t in TIERS]
    v2[1]["discount_percent"] = "8"

    async with orders_app.state.runtime.db.transaction() as session:
        await loyalty_cases.put_program(session, data=ProgramUpdate.model_validate({"tiers": v2}), actor="adm-1",
                                        currency="IDR")
        placing = asyncio.create_task(client.post("/orders", json=order_body(customer, (product, 1)),
                                                  headers=MANAGER))
        await asyncio.sleep(HELD)
    response = await placing
    assert response.status_code == 201, response.text
    assert (response.json()["discount_percent"], response.json()["loyalty_tier"]) == ("8.00", "silver")

    async with orders_app.state.runtime.db.transaction() as session:
        account = await session.get(LoyaltyAccount, customer)
        assert account is not None and (account.tier, account.discount_percent) == ("silver", D("8.00"))
        last = (await session.execute(
            select(OutboxMessage.envelope).where(OutboxMessage.event_type == "orders.loyalty.tier_changed",
                                                 OutboxMessage.key == customer)
            .order_by(OutboxMessage.id.desc()).limit(1))).scalar_one()
    assert json.loads(last)["payload"]["program_version"] == 2


# ----- replica ordering by the customer's revision (finding 7) --------------------------------------

async def test_the_replica_orders_snapshots_by_revision_not_by_clock(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, _client, _directory = app
    customer = str(uuid.uuid4())
    t0 = datetime.now(UTC)
    # Two API replicas of customers with skewed clocks: revision 3 was stamped a minute "earlier".
    await deliver(orders_app, customer_snapshot, snapshot_event(customer, "third", t0, revision=3))
    await deliver(orders_app, customer_snapshot, snapshot_event(customer, "second", t0 + timedelta(minutes=1), 2))
    async with orders_app.state.runtime.db.transaction() as session:
        row = await session.get(CustomerReplica, customer)
        assert row is not None and (row.segment, row.revision) == ("third", 3)
    await deliver(orders_app, customer_snapshot, snapshot_event(customer, "fourth", t0 - timedelta(minutes=5), 4))
    async with orders_app.state.runtime.db.transaction() as session:
        row = await session.get(CustomerReplica, customer, populate_existing=True)
        assert row is not None and (row.segment, row.revision) == ("fourth", 4)

    # Without a revision (an older producer), the instant decides as before.
    other = str(uuid.uuid4())
    await deliver(orders_app, customer_snapshot, snapshot_event(other, "newer", t0 + timedelta(minutes=1), None))
    await deliver(orders_app, customer_snapshot, snapshot_event(other, "older", t0, None))
    async with orders_app.state.runtime.db.transaction() as session:
        row = await session.get(CustomerReplica, other)
        assert row is not None and (row.segment, row.revision) == ("newer", None)


async def test_manager_assignments_reach_the_replica_in_the_same_revision_order_as_snapshots(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, _client, _directory = app

    async def manager_of(customer_id: str) -> tuple[str | None, int | None]:
        async with orders_app.state.runtime.db.transaction() as session:
            row = await session.get(CustomerReplica, customer_id)
            assert row is not None
            return row.manager_id, row.revision

    customer = str(uuid.uuid4())
    t0 = datetime.now(UTC)
    registered = snapshot_event(customer, "PT Sinar", t0, revision=1)
    await deliver(orders_app, customer_snapshot, registered)
    await deliver(orders_app, manager_assigned, manager_event(customer, "emp-2", t0 + timedelta(seconds=1), 2))
    assert await manager_of(customer) == ("emp-2", 2)
    await deliver(orders_app, customer_snapshot, registered)  # replayed late: older than the assignment
    assert await manager_of(customer) == ("emp-2", 2)
    # Clocks of the customers replicas disagree; the revision decides.
    await deliver(orders_app, manager_assigned, manager_event(customer, "emp-4", t0 - timedelta(minutes=1), 4))
    await deliver(orders_app, manager_assigned, manager_event(customer, "emp-3", t0 + timedelta(minutes=1), 3))
    assert await manager_of(customer) == ("emp-4", 4)
    await deliver(orders_app, customer_snapshot, snapshot_event(customer, "PT Sinar", t0, 5, manager_id="emp-5"))
    assert await manager_of(customer) == ("emp-5", 5)

    # Without revisions (an older producer) the instant decides, as for snapshots.
    other = str(uuid.uuid4())
    await deliver(orders_app, customer_snapshot, snapshot_event(other, "CV Jaya", t0, None))
    await deliver(orders_app, manager_assigned, manager_event(other, "emp-new", t0 + timedelta(seconds=2), None))
    await deliver(orders_app, manager_assigned, manager_event(other, "emp-old", t0 + timedelta(seconds=1), None))
    assert await manager_of(other) == ("emp-new", None)

    # Merged and erased are final; a customer never heard of is left to the event that introduces it.
    await deliver(orders_app, customer_merged, merged_event(other, customer, t0 + timedelta(seconds=3)))
    await deliver(orders_app, manager_assigned, manager_event(other, "emp-late", t0 + timedelta(seconds=4), None))
    assert await manager_of(other) == ("emp-new", None)
    stranger = str(uuid.uuid4())
    await deliver(orders_app, manager_assigned, manager_event(stranger, "emp-1", t0, 2))
    async with orders_app.state.runtime.db.transaction() as session:
        assert await session.get(CustomerReplica, stranger) is None


async def test_a_retired_version_1_snapshot_is_still_read_and_its_name_not_kept(
        app: tuple[FastAPI, httpx.AsyncClient, FakeDirectory]) -> None:
    orders_app, _client, _directory = app
    customer = str(uuid.uuid4())
    at = datetime.now(UTC)
    old = envelope("customers.customer.registered", customer, {
        "customer_id": customer, "kind": "person", "name": "Dewi Anggraini", "segment": "schools", "status": "active",
        "manager_id": None, "preferred_channel": None, "tags": ["vip"], "created_at": at.isoformat(),
        "source": "fair", "first_contact_channel": "phone", "revision": 1}, at)
    assert old.version == 1
    await deliver(orders_app, customer_snapshot, old)
    async with orders_app.state.runtime.db.transaction() as session:
        row = await session.get(CustomerReplica, customer)
        assert row is not None and (row.segment, row.name, row.revision) == ("schools", None, 1)
