"""Backdated commands (importing history): the given instants are stored, dated in the ledger and
carried by the events; instants in the future or before an earlier step of the order are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.orders.tests.conftest import (
    MANAGER,
    EventLog,
    FakeDirectory,
    assert_problem,
    create_product,
    ledger_of,
    order_body,
    place,
    put_program,
)

pytestmark = pytest.mark.integration

PLACED = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module", autouse=True)
async def program(client: httpx.AsyncClient) -> dict[str, Any]:
    return await put_program(client)


async def command(client: httpx.AsyncClient, order_id: str, step: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/orders/{order_id}/{step}", json=body, headers=MANAGER)


async def test_a_backdated_history_keeps_its_instants_in_the_order_the_ledger_and_the_events(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    customer = directory.add()
    big = await create_product(client, price="1200.00", cost="800.00")
    paid_at, fulfilled_at = PLACED + timedelta(days=2), PLACED + timedelta(days=5)
    # Written with an offset (+07:00); stored and returned in UTC.
    order = await place(client, customer, (big, 1), placed_at="2025-03-04T09:30:00+07:00")
    assert instant(order["placed_at"]) == PLACED

    paid = await command(client, order["id"], "pay", {"method": "cash", "paid_at": iso(paid_at)})
    assert paid.status_code == 200, paid.text
    assert instant(paid.json()["paid_at"]) == paid_at
    fulfilled = await command(client, order["id"], "fulfil", {"fulfilled_at": iso(fulfilled_at)})
    assert fulfilled.status_code == 200, fulfilled.text
    assert instant(fulfilled.json()["fulfilled_at"]) == fulfilled_at

    placed_event = (await event_log.wait_type("orders.order.placed", order_id=order["id"]))[0]
    assert instant(placed_event.payload["placed_at"]) == PLACED
    assert instant(placed_event.envelope["occurred_at"]) == PLACED
    paid_event = (await event_log.wait_type("orders.order.paid", order_id=order["id"]))[0]
    assert instant(paid_event.payload["paid_at"]) == paid_at == instant(paid_event.envelope["occurred_at"])
    fulfilled_event = (await event_log.wait_type("orders.order.fulfilled", order_id=order["id"]))[0]
    assert instant(fulfilled_event.payload["fulfilled_at"]) == fulfilled_at

    # 1200.00 paid reaches silver: the accrual and the tier change are dated at the payment.
    [accrual] = await ledger_of(client, customer)
    assert instant(accrual["effective_at"]) == paid_at
    change = (await event_log.wait_type("orders.loyalty.tier_changed", customer_id=customer))[0]
    assert change.payload["tier"] == "silver" and instant(change.payload["changed_at"]) == paid_at

    # Priced with the standing in force at its own (backdated) instant.
    later = await place(client, customer, (big, 1), placed_at=iso(paid_at + timedelta(hours=1)))
    assert later["loyalty_tier"] == "silver"


async def test_a_backdated_cancellation_and_return_are_dated_as_given(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    customer = directory.add()
    paper = await create_product(client, price="100.00", cost="60.00")
    cancelled_at = PLACED + timedelta(hours=3)
    first = await place(client, customer, (paper, 1), placed_at=iso(PLACED))
    cancelled = await command(client, first["id"], "cancel", {"reason": "twice", "cancelled_at": iso(cancelled_at)})
    assert cancelled.status_code == 200, cancelled.text
    assert instant(cancelled.json()["cancelled_at"]) == cancelled_at
    event = (await event_log.wait_type("orders.order.cancelled", order_id=first["id"]))[0]
    assert instant(event.payload["cancelled_at"]) == cancelled_at

    second = await place(client, customer, (paper, 2), placed_at=iso(PLACED))
    paid_at, returned_at = PLACED + timedelta(days=1), PLACED + timedelta(days=9)
    assert (await command(client, second["id"], "pay", {"paid_at": iso(paid_at)})).status_code == 200
    returned = await command(client, second["id"], "returns", {"returned_at": iso(returned_at)})
    assert returned.status_code == 201, returned.text
    assert instant(returned.json()["created_at"]) == returned_at
    event = (await event_log.wait_type("orders.order.returned", order_id=second["id"]))[0]
    assert instant(event.payload["returned_at"]) == returned_at
    assert instant(event.payload["order_paid_at"]) == paid_at


async def test_instants_in_the_future_or_before_an_earlier_step_are_refused(
        client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    customer = directory.add()
    paper = await create_product(client)
    now = datetime.now(UTC)

    an_hour_ahead = iso(now + timedelta(hours=1))
    future = await client.post("/orders", json=order_body(customer, (paper, 1), placed_at=an_hour_ahead),
                               headers=MANAGER)
    assert assert_problem(future, 422)["field"] == "placed_at"
    no_offset = await client.post("/orders", json=order_body(customer, (paper, 1), placed_at="2025-03-04T09:30:00"),
                                  headers=MANAGER)
    assert_problem(no_offset, 422)
    a_number = await client.post("/orders", json=order_body(customer, (paper, 1), placed_at=1741050000),
                                 headers=MANAGER)
    assert_problem(a_number, 422)

    order = await place(client, customer, (paper, 1), placed_at=iso(PLACED))
    early = await command(client, order["id"], "pay", {"paid_at": iso(PLACED - timedelta(seconds=1))})
    assert assert_problem(early, 422)["field"] == "paid_at"
    ahead = await command(client, order["id"], "pay", {"paid_at": iso(now + timedelta(days=1))})
    assert assert_problem(ahead, 422)["field"] == "paid_at"
    early_cancel = await command(client, order["id"], "cancel", {"cancelled_at": iso(PLACED - timedelta(days=1))})
    assert assert_problem(early_cancel, 422)["field"] == "cancelled_at"
    unpaid = await client.get(f"/orders/{order['id']}", headers=MANAGER)
    assert unpaid.json()["status"] == "placed"  # nothing of the refused commands was kept

    paid_at = PLACED + timedelta(days=1)
    assert (await command(client, order["id"], "pay", {"paid_at": iso(paid_at)})).status_code == 200
    early_fulfil = await command(client, order["id"], "fulfil", {"fulfilled_at": iso(paid_at - timedelta(hours=1))})
    assert assert_problem(early_fulfil, 422)["field"] == "fulfilled_at"
    early_return = await command(client, order["id"], "returns", {"returned_at": iso(PLACED)})
    assert assert_problem(early_return, 422)["field"] == "returned_at"
    before_payment = await command(client, order["id"], "cancel", {"cancelled_at": iso(paid_at - timedelta(hours=1))})
    assert assert_problem(before_payment, 422)["field"] == "cancelled_at"


async def test_a_clock_a_little_ahead_counts_as_now_and_the_default_stays_now(
        client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    customer = directory.add()
    paper = await create_product(client)
    before = datetime.now(UTC)
    skewed = await place(client, customer, (paper, 1), placed_at=iso(before + timedelta(minutes=2)))
    after = datetime.now(UTC)
    assert before <= instant(skewed["placed_at"]) <= after
    plain = await place(client, customer, (paper, 1))
    assert before <= instant(plain["placed_at"]) <= datetime.now(UTC)
    paid = await command(client, plain["id"], "pay", {})
    assert paid.status_code == 200 and instant(paid.json()["paid_at"]) >= instant(plain["placed_at"])
