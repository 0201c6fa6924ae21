"""The edges of the locomotive follow-up, through the real broker and database: a flag learnt after the
payment, a cancellation after the follow-up took place, news about merged, erased and unknown
customers, the same record delivered twice, and a cancellation handled at the same moment as the
payment (two transactions, as two consumers would run them during a rebalance)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.customers.models import Consultation, LocomotiveFlag
from services.customers.tests.conftest import MANAGER, SUPPORT, register, unique
from services.customers.tests.test_follow_ups import (
    _line,
    _snapshot,
    agenda,
    at_risk,
    cancelled,
    eventually,
    flag,
    managed_customer,
    paid,
)
from services.customers.use_cases import follow_ups
from shared.events.contracts import incentives as incentive_events
from shared.events.contracts import orders as order_events
from shared.testing.events import Bus

pytestmark = pytest.mark.integration

HELD = 1.0  # how long the racing transaction is left waiting on the open one


def runtime(client: httpx.AsyncClient) -> Any:
    return client._transport.app.state.runtime  # type: ignore[attr-defined]


async def flag_known(client: httpx.AsyncClient, bus: Bus, product_id: str, *, locomotive: bool,
                     effective_at: datetime) -> None:
    """Publish the flag and wait until the consumer has stored it (the flags' topic is consumed
    independently of the orders' topic, so nothing else tells when it was handled)."""
    await flag(bus, product_id, locomotive=locomotive, effective_at=effective_at)

    async def stored() -> None:
        async with runtime(client).db.transaction() as session:
            row = await session.get(LocomotiveFlag, (product_id, effective_at))
            assert row is not None and row.locomotive is locomotive

    await eventually(stored)


async def follow_ups_of(client: httpx.AsyncClient, customer_id: str) -> list[tuple[str, str, str]]:
    return sorted((c["order_id"], c["status"], c["employee_id"]) for c in await agenda(client, customer_id)
                  if c["reason"] == "locomotive_sale")


async def test_a_flag_learnt_after_the_payment_does_not_schedule_that_order(client: httpx.AsyncClient,
                                                                             bus: Bus) -> None:
    # The documented decision: the flag must be known when the paid event is handled. Orders paid
    # after the flag is learnt are followed up, also when the flag dates back before both payments.
    toner, marker = unique("toner-"), unique("marker-")
    await flag_known(client, bus, marker, locomotive=True, effective_at=datetime.now(UTC) - timedelta(days=5))
    customer = await managed_customer(client)
    early, witness, late = unique("o-early-"), unique("o-witness-"), unique("o-late-")
    lines = [_line(1, toner, "Toner 12A")]
    await paid(bus, early, customer, lines, datetime.now(UTC) - timedelta(minutes=20))
    # Same key, same partition: once the witness is scheduled, the early order was handled, while the
    # toner was not known as a locomotive.
    await paid(bus, witness, customer, [_line(1, marker, "Tinta 664")], datetime.now(UTC) - timedelta(minutes=19))

    async def witness_handled() -> None:
        assert await follow_ups_of(client, customer) == [(witness, "scheduled", "emp-manager")]

    await eventually(witness_handled)
    await flag_known(client, bus, toner, locomotive=True, effective_at=datetime.now(UTC) - timedelta(days=2))
    await paid(bus, late, customer, lines, datetime.now(UTC) - timedelta(minutes=10))

    async def not_the_early_order() -> None:
        assert await follow_ups_of(client, customer) == sorted(
            [(witness, "scheduled", "emp-manager"), (late, "scheduled", "emp-manager")])

    await eventually(not_the_early_order)
    await asyncio.sleep(1.0)
    await not_the_early_order()


async def test_flags_arriving_out_of_order_keep_the_one_in_force_at_the_payment(client: httpx.AsyncClient,
                                                                                bus: Bus) -> None:
    # The newer change (no longer locomotive from yesterday) is delivered before the older one.
    toner = unique("toner-")
    now = datetime.now(UTC)
    await flag_known(client, bus, toner, locomotive=False, effective_at=now - timedelta(days=1))
    await flag_known(client, bus, toner, locomotive=True, effective_at=now - timedelta(days=20))
    customer = await managed_customer(client)
    before, after = unique("o-before-"), unique("o-after-")
    await paid(bus, before, customer, [_line(1, toner, "Toner 12A")], now - timedelta(days=2))
    await paid(bus, after, customer, [_line(1, toner, "Toner 12A")], now - timedelta(minutes=5))

    async def only_the_sale_while_it_was_one() -> None:
        assert await follow_ups_of(client, customer) == [(before, "scheduled", "emp-manager")]

    await eventually(only_the_sale_while_it_was_one)


async def test_a_completed_follow_up_stays_completed_when_the_order_is_cancelled(client: httpx.AsyncClient,
                                                                                 bus: Bus) -> None:
    toner = unique("toner-")
    await flag_known(client, bus, toner, locomotive=True, effective_at=datetime.now(UTC) - timedelta(days=5))
    customer = await managed_customer(client)
    order_id, lines = unique("o-"), [_line(1, toner, "Toner 12A")]
    await paid(bus, order_id, customer, lines, datetime.now(UTC) - timedelta(minutes=3))

    async def scheduled() -> dict[str, Any]:
        items = [c for c in await agenda(client, customer) if c["order_id"] == order_id]
        assert len(items) == 1, items
        return items[0]

    follow_up = await eventually(scheduled)
    done = await client.post(f"/consultations/{follow_up['id']}/complete", json={"outcome": "happy with it"},
                             headers=SUPPORT)
    assert done.status_code == 200, done.text
    await cancelled(bus, order_id, customer, lines, datetime.now(UTC))
    witness = unique("o-")  # handled after the cancellation (same key, same partition)
    await paid(bus, witness, customer, lines, datetime.now(UTC) - timedelta(minutes=1))

    async def witness_seen() -> None:
        assert await follow_ups_of(client, customer) == sorted(
            [(order_id, "completed", "emp-manager"), (witness, "scheduled", "emp-manager")])

    await eventually(witness_seen)
    (kept,) = [c for c in await agenda(client, customer) if c["order_id"] == order_id]
    assert (kept["outcome"], kept["cancel_reason"]) == ("happy with it", None)


async def test_merged_erased_and_unknown_customers(client: httpx.AsyncClient, bus: Bus) -> None:
    toner = unique("toner-")
    await flag_known(client, bus, toner, locomotive=True, effective_at=datetime.now(UTC) - timedelta(days=5))
    survivor = await managed_customer(client, "emp-survivor")
    duplicate = await managed_customer(client, "emp-duplicate")
    merged = await client.post(f"/customers/{survivor}/merge", json={"duplicate_id": duplicate}, headers=MANAGER)
    assert merged.status_code == 200, merged.text
    erased = await managed_customer(client, "emp-gone")
    gone = await client.post(f"/customers/{erased}/erase", headers=SUPPORT)
    assert gone.status_code == 200, gone.text
    lines = [_line(1, toner, "Toner 12A")]
    stranger = unique("c-unknown-")
    await paid(bus, unique("o-"), stranger, lines, datetime.now(UTC) - timedelta(minutes=4))
    await paid(bus, unique("o-"), erased, lines, datetime.now(UTC) - timedelta(minutes=4))
    for_duplicate = unique("o-dup-")
    await paid(bus, for_duplicate, duplicate, lines, datetime.now(UTC) - timedelta(minutes=3))

    async def the_survivors_manager_has_it() -> None:
        # The survivor's permanent manager, not the one the duplicate had.
        assert await follow_ups_of(client, survivor) == [(for_duplicate, "scheduled", "emp-survivor")]

    await eventually(the_survivors_manager_has_it)
    assert await follow_ups_of(client, erased) == []
    assert await follow_ups_of(client, stranger) == []
    assert await follow_ups_of(client, duplicate) == []
    # The consumer moved on past all of them (nothing went to retries or stalled it).
    later = await managed_customer(client)
    witness = unique("o-")
    await paid(bus, witness, later, lines, datetime.now(UTC) - timedelta(minutes=1))

    async def still_consuming() -> None:
        assert await follow_ups_of(client, later) == [(witness, "scheduled", "emp-manager")]

    await eventually(still_consuming)


async def test_the_same_record_delivered_twice_schedules_one(client: httpx.AsyncClient, bus: Bus) -> None:
    toner = unique("toner-")
    await flag_known(client, bus, toner, locomotive=True, effective_at=datetime.now(UTC) - timedelta(days=5))
    customer = await managed_customer(client)
    order_id, paid_at = unique("o-"), datetime.now(UTC) - timedelta(minutes=2)
    event = order_events.OrderPaidV2(**_snapshot(order_id, customer, [_line(1, toner, "Toner 12A")], "paid",
                                                 paid_at - timedelta(hours=1)), paid_at=paid_at, payment_method="cash")
    envelope = await bus.publish(event, key=customer, aggregate_id=order_id, customer_id=customer)
    await bus.send(envelope, key=customer)  # a relay that crashed before marking the row sent

    async def one() -> None:
        assert await follow_ups_of(client, customer) == [(order_id, "scheduled", "emp-manager")]

    await eventually(one)
    await asyncio.sleep(1.5)
    await one()


async def test_a_cancellation_handled_while_the_payment_is_handled_leaves_nothing_scheduled(
        client: httpx.AsyncClient) -> None:
    db, settings = runtime(client).db, runtime(client).settings
    toner, now = unique("toner-"), datetime.now(UTC)
    since = now - timedelta(days=3)
    async with db.transaction() as session:
        await follow_ups.note_locomotive_flag(session, incentive_events.ProductWeightSetV1(
            product_id=toner, category=None, weight="2", locomotive=True, effective_from=since.date(),
            effective_at=since, previous_weight=None, previous_locomotive=None, set_by="head", set_at=now))
    customer = (await register(client))["id"]
    order_id = unique("o-")
    event = order_events.OrderPaidV2(**_snapshot(order_id, customer, [_line(1, toner, "Toner 12A")], "paid",
                                                 now - timedelta(hours=1)), paid_at=now, payment_method=None)

    async def handle_paid() -> Consultation | None:
        async with db.transaction() as session:
            return await follow_ups.follow_up_paid_order(session, event, settings)

    async with db.transaction() as session:
        await follow_ups.cancel_follow_up(session, order_id=order_id, customer_id=customer, cancelled_at=now)
        paying = asyncio.create_task(handle_paid())
        await asyncio.sleep(HELD)
        assert not paying.done()  # waits for the cancellation's transaction
    assert await paying is None
    assert [c for c in await agenda(client, customer) if c["order_id"] == order_id] == []


async def test_no_retention_call_for_an_erased_customer_or_one_without_a_manager(client: httpx.AsyncClient,
                                                                               bus: Bus) -> None:
    unmanaged = await managed_customer(client, manager=None)
    erased = await managed_customer(client, "emp-gone")
    gone = await client.post(f"/customers/{erased}/erase", headers=SUPPORT)
    assert gone.status_code == 200, gone.text
    witness = await managed_customer(client, "emp-keeper")
    # Analytics' manager hint is not used: the customer's own record says who manages it (nobody).
    await at_risk(bus, unmanaged, "emp-stale")
    await at_risk(bus, erased, "emp-gone")
    await at_risk(bus, witness, "emp-keeper")

    async def witness_called() -> None:
        assert [c["employee_id"] for c in await agenda(client, witness) if c["reason"] == "retention"] == [
            "emp-keeper"]

    await eventually(witness_called)
    await asyncio.sleep(1.0)  # the other two were published first, on their own keys
    assert [c for c in await agenda(client, unmanaged) if c["reason"] == "retention"] == []
    assert [c for c in await agenda(client, erased) if c["reason"] == "retention"] == []


async def test_the_database_refuses_a_second_open_retention_call(client: httpx.AsyncClient) -> None:
    # What holds when two replicas handle at-risk news for one customer at once: the partial unique
    # index, not only the code's row lock.
    customer = (await register(client))["id"]
    due = datetime.now(UTC) + timedelta(days=1)

    def call(status: str) -> Consultation:
        return Consultation(customer_id=customer, employee_id="emp-keeper", topic="Retention call", due_at=due,
                            status=status, reason="retention", created_by="test")

    async with runtime(client).db.transaction() as session:
        session.add_all([call("completed"), call("cancelled"), call("scheduled")])  # closed ones do not count
    with pytest.raises(sa.exc.IntegrityError):
        async with runtime(client).db.transaction() as session:
            session.add(call("scheduled"))
