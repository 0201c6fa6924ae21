"""Many requests for one customer at once: the ledger and the tier stay exact; one key, one order."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from itertools import pairwise
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.orders.app import create_app
from services.orders.tests.conftest import (
    ANALYST,
    MANAGER,
    SUPPORT,
    TIERS,
    EventLog,
    FakeDirectory,
    create_product,
    ledger_of,
    loyalty_of,
    order_body,
    place,
    put_program,
    settings_for,
)
from shared.bus.tables import OutboxMessage
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

pytestmark = pytest.mark.integration

D = Decimal


def expected_tier(spend: Decimal) -> str:
    return [t["name"] for t in TIERS if spend >= D(t["threshold"])][-1]


async def all_orders(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/customers/{customer_id}/orders", params=params, headers=ANALYST)).json()
        orders += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return orders


async def test_fifty_concurrent_orders_and_returns_leave_the_ledger_and_tier_exact(
        database_url: str, topics: str, event_log: EventLog) -> None:
    directory = FakeDirectory()
    customer = directory.add()
    app = create_app(settings_for(database_url, topics), customer_directory=directory, staff_lookup=AnyEmployee())
    async with app_client(app) as client:
        await put_program(client)
        products = [await create_product(client, price=p, cost=c)
                    for p, c in (("123.45", "80.01"), ("77.77", "40.00"), ("19.99", "12.34"))]

        async def buy(i: int) -> dict[str, Any]:
            lines = [(products[i % 3], 1 + i % 4)] + ([(products[(i + 1) % 3], 1 + i % 2)] if i % 2 else [])
            order = await place(client, customer, *lines, headers=MANAGER if i % 2 else SUPPORT)
            paid = await client.post(f"/orders/{order['id']}/pay", headers=MANAGER)
            assert paid.status_code == 200, paid.text
            return paid.json()

        async def partial_return(order: dict[str, Any]) -> int:
            line = order["lines"][0]
            response = await client.post(f"/orders/{order['id']}/returns", headers=SUPPORT, json={
                "lines": [{"product_id": line["product_id"], "quantity": max(1, line["quantity"] // 2)}]})
            return response.status_code

        async def whole_return(order: dict[str, Any]) -> int:
            return (await client.post(f"/orders/{order['id']}/returns", headers=SUPPORT)).status_code

        async def cancel(order: dict[str, Any]) -> int:
            return (await client.post(f"/orders/{order['id']}/cancel", json={"reason": "dup"},
                                      headers=MANAGER)).status_code

        started = time.monotonic()
        first = await asyncio.gather(*(buy(i) for i in range(30)))
        # Everything at once: 30 more purchases, 15 partial returns, 5 cancellations of paid orders,
        # and 5 orders returned whole by two racing requests each (exactly one of a pair may win).
        outcomes = await asyncio.gather(
            *(buy(i) for i in range(30, 60)),
            *(partial_return(o) for o in first[:15]),
            *(cancel(o) for o in first[15:20]),
            *(whole_return(o) for o in first[20:25]),
            *(whole_return(o) for o in first[20:25]),
        )
        elapsed = time.monotonic() - started
        returns = outcomes[30:45]
        cancels = outcomes[45:50]
        racing = list(zip(outcomes[50:55], outcomes[55:60], strict=True))
        assert all(sorted(pair) == [201, 409] for pair in racing), racing

        assert all(status == 201 for status in returns) and cancels == [200] * 5
        spend_2, tier_2, _ = await assert_exact(client, app, event_log, customer, orders=60, cancelled=5,
                                                        returns=20)
        for o in first[20:25]:
            assert (await client.get(f"/orders/{o['id']}", headers=ANALYST)).json()["returned"]["net"] == o["net"]

        # Then a burst of reversals only: every order still untouched is cancelled at once, so the
        # tier falls across the boundaries while the cancellations race each other.
        untouched = [o for o in await all_orders(client, customer)
                     if o["status"] == "paid" and o["returned"]["net"] == "0.00"]
        started = time.monotonic()
        statuses = await asyncio.gather(*(cancel(o) for o in untouched))
        burst = time.monotonic() - started
        assert statuses == [200] * len(untouched)
        spend_3, tier_3, changes_3 = await assert_exact(client, app, event_log, customer, orders=60,
                                                        cancelled=5 + len(untouched), returns=20)
        assert spend_3 < spend_2
        print(f"\n60 orders, {60 * 2 + 30} concurrent requests in {elapsed:.2f}s: spend {spend_2} -> {tier_2}; "
              f"then {len(untouched)} concurrent cancellations in {burst:.2f}s: spend {spend_3} -> {tier_3}; "
              f"{changes_3} tier changes announced in an unbroken chain")


async def assert_exact(client: httpx.AsyncClient, app: Any, event_log: EventLog, customer: str, *, orders: int,
                       cancelled: int, returns: int) -> tuple[Decimal, str, int]:
    """Ledger, loyalty status and tier events agree, to the cent, with what the orders say."""
    listed = await all_orders(client, customer)
    assert len(listed) == orders
    retained = {o["id"]: (D(o["net"]) - D(o["returned"]["net"]) if o["status"] in ("paid", "fulfilled")
                          else D("0")) for o in listed}
    expected = sum(retained.values(), D("0"))
    assert sum(o["status"] == "cancelled" for o in listed) == cancelled
    for o in listed:  # every order adds up to its lines
        assert sum(D(ln["net"]) for ln in o["lines"]) == D(o["net"])
        assert D(o["gross"]) - D(o["discount"]) == D(o["net"])

    ledger = await ledger_of(client, customer)
    assert sum(D(e["amount"]) for e in ledger) == expected
    per_order: dict[str, Decimal] = {}
    for entry in ledger:
        per_order[entry["order_id"]] = per_order.get(entry["order_id"], D("0")) + D(entry["amount"])
    assert per_order == retained
    assert sum(e["kind"] == "accrual" for e in ledger) == orders
    assert sum(e["kind"] == "cancellation" for e in ledger) == cancelled
    assert sum(e["kind"] == "return" for e in ledger) == returns

    status = await loyalty_of(client, customer)
    assert D(status["lifetime_spend"]) == D(status["spend_in_window"]) == expected
    tier = expected_tier(expected)
    assert status["tier"]["name"] == tier

    # Every tier change written to the outbox reaches the topic; the last one names the tier.
    async with app.state.runtime.db.transaction() as session:
        written = set((await session.execute(
            select(OutboxMessage.event_id).where(OutboxMessage.event_type == "orders.loyalty.tier_changed",
                                                 OutboxMessage.key == customer))).scalars())
    changes = await event_log.wait_for(lambda r: r.envelope["event_id"] in written, count=len(written))
    assert changes[-1].payload["tier"] == tier
    for earlier, later in pairwise(changes):
        assert later.payload["previous_tier"] == earlier.payload["tier"]  # an unbroken chain
    return expected, tier, len(changes)


async def test_the_same_idempotency_key_sent_concurrently_makes_exactly_one_order(
        database_url: str, topics: str) -> None:
    directory = FakeDirectory()
    customer = directory.add()  # unknown to the replica: every request also races to record it
    app = create_app(settings_for(database_url, topics), customer_directory=directory, staff_lookup=AnyEmployee())
    async with app_client(app) as client:
        product = await create_product(client, price="15000.00", cost="9000.00")
        body = order_body(customer, (product, 4))
        headers = {**MANAGER, "Idempotency-Key": "checkout-7f3a"}
        responses = await asyncio.gather(*(client.post("/orders", json=body, headers=headers) for _ in range(12)))
        assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert all(r.json() == responses[0].json() for r in responses)
        orders = await all_orders(client, customer)
        assert [o["id"] for o in orders] == [responses[0].json()["id"]]

        # The same key with a different body, concurrently with replays: refused, never a second order.
        other = order_body(customer, (product, 5))
        mixed = await asyncio.gather(*(client.post("/orders", json=other if i % 2 else body, headers=headers)
                                       for i in range(6)))
        assert sorted(r.status_code for r in mixed) == [201, 201, 201, 422, 422, 422]
        assert len(await all_orders(client, customer)) == 1
        await place(client, customer, (product, 1))  # without a key, a new order as usual
        assert len(await all_orders(client, customer)) == 2
