"""The orders API against the real database and broker: pricing, lifecycle, returns, refusals, events."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.orders.tests.conftest import (
    ANALYST,
    MANAGER,
    SERVICE,
    SUPPORT,
    TIERS,
    EventLog,
    FakeDirectory,
    assert_problem,
    create_product,
    ledger_of,
    loyalty_of,
    order_body,
    pay,
    place,
    put_program,
    unique,
)
from shared.testing.apps import bearer

pytestmark = pytest.mark.integration

D = Decimal


@pytest.fixture(scope="module", autouse=True)
async def program(client: httpx.AsyncClient) -> dict[str, Any]:
    return await put_program(client)


async def test_an_order_is_priced_from_the_catalogue_with_the_tier_discount_rounded_per_line(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    customer = directory.add()
    paper = await create_product(client, price="33.33", cost="20.10")
    pen = await create_product(client, price="0.10", cost="0.02", category="writing")

    first = await place(client, customer, (paper, 3), (pen, 1), channel="phone", sales_employee_id="emp-42")
    assert first["status"] == "placed" and first["loyalty_tier"] == "base" and first["discount_percent"] == "0.00"
    assert (first["gross"], first["discount"], first["net"]) == ("100.09", "0.00", "100.09")

    big = await create_product(client, price="1000.00", cost="700.00")
    await pay(client, (await place(client, customer, (big, 1)))["id"])  # 1000.00 paid: silver (5 %)

    second = await place(client, customer, (paper, 3), (pen, 1), channel="web", sales_employee_id="emp-42",
                         note="deliver before noon")
    assert second["loyalty_tier"] == "silver" and second["discount_percent"] == "5.00"
    lines = {line["sku"]: line for line in second["lines"]}
    assert {k: lines[paper["sku"]][k] for k in ("quantity", "unit_price", "unit_cost", "discount_percent", "gross",
                                                 "discount", "net", "cost", "margin")} == {
        "quantity": 3, "unit_price": "33.33", "unit_cost": "20.10", "discount_percent": "5.00", "gross": "99.99",
        "discount": "5.00", "net": "94.99", "cost": "60.30", "margin": "34.69"}
    assert (lines[pen["sku"]]["discount"], lines[pen["sku"]]["net"]) == ("0.01", "0.09")  # 0.005 rounds up
    # Order totals are sums of the rounded lines (5 % of 100.09 would be 5.00, not 5.01).
    assert (second["gross"], second["discount"], second["net"], second["cost"], second["margin"]) == (
        "100.09", "5.01", "95.08", "60.32", "34.76")
    assert second["note"] == "deliver before noon" and second["placed_by"] == "mgr-1"
    assert second["returned"] == {"gross": "0.00", "discount": "0.00", "net": "0.00", "cost": "0.00",
                                  "margin": "0.00"}

    fetched = await client.get(f"/orders/{second['id']}", headers=SERVICE)
    assert fetched.status_code == 200 and fetched.json() == second

    placed = (await event_log.wait_type("orders.order.placed", order_id=second["id"]))[0]
    assert placed.key == customer and placed.envelope["customer_id"] == customer
    assert placed.envelope["aggregate_id"] == second["id"] and placed.envelope["version"] == 1
    payload = placed.payload
    assert (payload["sales_employee_id"], payload["currency"], payload["channel"]) == ("emp-42", "IDR", "web")
    assert (payload["gross"], payload["discount"], payload["net"], payload["cost"], payload["margin"]) == (
        "100.09", "5.01", "95.08", "60.32", "34.76")
    assert (payload["loyalty_tier"], payload["discount_percent"]) == ("silver", "5.00")
    assert {(ln["product_id"], ln["category"], ln["quantity"], ln["net"], ln["cost"]) for ln in payload["lines"]} == {
        (paper["id"], "paper", 3, "94.99", "60.30"), (pen["id"], "writing", 1, "0.09", "0.02")}


async def test_lifecycle_transitions_are_idempotent_where_natural_and_conflicts_are_409(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    customer = directory.add()
    product = await create_product(client, price="250.00", cost="100.00")
    order = await place(client, customer, (product, 2))
    url = f"/orders/{order['id']}"

    early = assert_problem(await client.post(f"{url}/fulfil", headers=MANAGER), 409, "invalid-order-transition")
    assert (early["order_id"], early["order_status"]) == (order["id"], "placed")
    assert_problem(await client.post(f"{url}/returns", json={}, headers=MANAGER), 409)
    paid = await client.post(f"{url}/pay", json={"method": "card", "reference": "EDC-7781"}, headers=SUPPORT)
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert (paid.json()["payment_method"], paid.json()["payment_reference"]) == ("card", "EDC-7781")
    again = await client.post(f"{url}/pay", headers=SUPPORT)  # a retry: unchanged
    assert again.status_code == 200 and again.json() == paid.json()
    fulfilled = await client.post(f"{url}/fulfil", headers=MANAGER)
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"
    assert (await client.post(f"{url}/fulfil", headers=MANAGER)).json() == fulfilled.json()
    assert (await client.post(f"{url}/pay", headers=MANAGER)).json() == fulfilled.json()
    assert_problem(await client.post(f"{url}/cancel", json={"reason": "late"}, headers=MANAGER), 409)
    after_delivery = await client.post(f"{url}/returns", json={"lines": [{"product_id": product["id"], "quantity": 1}]},
                                       headers=SUPPORT)
    assert after_delivery.status_code == 201 and after_delivery.json()["net"] == "250.00"

    other = await place(client, customer, (product, 1))
    cancelled = await client.post(f"/orders/{other['id']}/cancel", json={"reason": "customer changed mind"},
                                  headers=MANAGER)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "customer changed mind"
    assert (await client.post(f"/orders/{other['id']}/cancel", headers=MANAGER)).json() == cancelled.json()
    assert_problem(await client.post(f"/orders/{other['id']}/pay", headers=MANAGER), 409)
    assert_problem(await client.post(f"/orders/{other['id']}/fulfil", headers=MANAGER), 409)
    assert_problem(await client.post(f"/orders/{other['id']}/returns", json={}, headers=MANAGER), 409)

    assert len(await event_log.wait_type("orders.order.paid", order_id=order["id"])) == 1
    assert len(await event_log.wait_type("orders.order.fulfilled", order_id=order["id"])) == 1
    unpaid_cancel = (await event_log.wait_type("orders.order.cancelled", order_id=other["id"]))[0].payload
    assert unpaid_cancel["was_paid"] is False and unpaid_cancel["reversed"]["net"] == "0.00"
    await asyncio.sleep(0.5)  # nothing more may follow for the retried transitions
    assert len(event_log.of_type("orders.order.paid", order_id=order["id"])) == 1
    assert len(event_log.of_type("orders.order.fulfilled", order_id=order["id"])) == 1
    assert len(event_log.of_type("orders.order.cancelled", order_id=other["id"])) == 1
    # The paid (and fulfilled) order counts; the cancelled unpaid one never did.
    assert (await loyalty_of(client, customer))["lifetime_spend"] == "250.00"  # 500.00 paid, 250.00 returned


async def test_returns_are_bounded_prorated_exactly_and_reverse_loyalty(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    customer = directory.add()
    big = await create_product(client, price="1000.00", cost="800.00")
    await pay(client, (await place(client, customer, (big, 1)))["id"])  # silver from now on
    paper = await create_product(client, price="33.33", cost="20.10")
    pen = await create_product(client, price="12.00", cost="7.00")
    order = await pay(client, (await place(client, customer, (paper, 3), (pen, 5)))["id"])
    assert order["discount_percent"] == "5.00"
    assert order["net"] == "151.99"  # 94.99 + 57.00
    url = f"/orders/{order['id']}/returns"

    first = await client.post(url, json={"lines": [{"product_id": paper["id"], "quantity": 1}],
                                         "reason": "torn packs"}, headers=SUPPORT)
    assert first.status_code == 201, first.text
    assert (first.json()["gross"], first.json()["discount"], first.json()["net"], first.json()["cost"]) == (
        "33.33", "1.67", "31.66", "20.10")
    over = assert_problem(await client.post(url, json={"lines": [{"product_id": paper["id"], "quantity": 3}]},
                                            headers=SUPPORT), 409)
    assert (over["returnable"], over["requested"]) == (2, 3)
    assert_problem(await client.post(url, json={"lines": [{"product_id": big["id"], "quantity": 1}]},
                                     headers=SUPPORT), 422)
    for bad in ({"lines": []}, {"lines": [{"product_id": pen["id"], "quantity": 0}]},
                {"lines": [{"product_id": pen["id"], "quantity": 1}, {"product_id": pen["id"], "quantity": 1}]},
                {"lines": [{"product_id": pen["id"], "quantity": "1"}]}, {"unknown": True}):
        assert_problem(await client.post(url, json=bad, headers=SUPPORT), 422)

    second = await client.post(url, json={"lines": [{"product_id": paper["id"], "quantity": 1},
                                                    {"product_id": pen["id"], "quantity": 2}]}, headers=SUPPORT)
    assert second.status_code == 201
    assert second.json()["net"] == str(D("31.67") + D("22.80"))
    rest = await client.post(url, headers=SUPPORT)  # no body: everything still returnable
    assert rest.status_code == 201
    assert [(ln["product_id"], ln["quantity"]) for ln in rest.json()["lines"]] == [(paper["id"], 1), (pen["id"], 3)]
    assert_problem(await client.post(url, headers=SUPPORT), 409)

    after = (await client.get(f"/orders/{order['id']}", headers=ANALYST)).json()
    assert after["returned"]["net"] == order["net"] and after["returned"]["gross"] == order["gross"]
    assert after["returned"]["cost"] == order["cost"]
    assert [ln["returned_quantity"] for ln in after["lines"]] == [3, 5]
    listed = (await client.get(url, headers=ANALYST)).json()
    assert [r["id"] for r in listed] == [first.json()["id"], second.json()["id"], rest.json()["id"]]
    assert sum(D(r["net"]) for r in listed) == D(order["net"])

    entries = [e for e in await ledger_of(client, customer) if e["order_id"] == order["id"]]
    assert sorted(e["kind"] for e in entries) == ["accrual", "return", "return", "return"]
    assert sum(D(e["amount"]) for e in entries) == 0
    assert {e["effective_at"] for e in entries} == {order["paid_at"]}  # reversals dated at the payment
    assert {e["return_id"] for e in entries if e["kind"] == "return"} == {r["id"] for r in listed}
    assert (await loyalty_of(client, customer))["lifetime_spend"] == "1000.00"

    returned = await event_log.wait_type("orders.order.returned", count=3, order_id=order["id"])
    assert [r.payload["fully_returned"] for r in returned] == [False, False, True]
    assert returned[0].key == customer
    assert returned[0].payload["lines"] == [{"line_no": 1, "product_id": paper["id"], "sku": paper["sku"],
                                             "category": "paper", "quantity": 1, "gross": "33.33",
                                             "discount": "1.67", "net": "31.66", "cost": "20.10",
                                             "margin": "11.56"}]
    assert returned[0].payload["sales_employee_id"] == "emp-7"
    assert returned[0].payload["order_paid_at"].startswith(order["paid_at"][:19])


async def test_cancelling_a_paid_order_reverses_exactly_what_returns_left(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    customer = directory.add()
    product = await create_product(client, price="700.00", cost="400.00")
    order = await pay(client, (await place(client, customer, (product, 3)))["id"])  # 2100.00: silver
    assert (await loyalty_of(client, customer))["tier"]["name"] == "silver"
    returned = await client.post(f"/orders/{order['id']}/returns",
                                 json={"lines": [{"product_id": product["id"], "quantity": 1}]}, headers=MANAGER)
    assert returned.status_code == 201
    cancelled = await client.post(f"/orders/{order['id']}/cancel", json={"reason": "credit check failed"},
                                  headers=MANAGER)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    entries = await ledger_of(client, customer)
    assert [(e["kind"], e["amount"]) for e in reversed(entries)] == [
        ("accrual", "2100.00"), ("return", "-700.00"), ("cancellation", "-1400.00")]
    status = await loyalty_of(client, customer)
    assert (status["lifetime_spend"], status["tier"]["name"]) == ("0.00", "base")
    event = (await event_log.wait_type("orders.order.cancelled", order_id=order["id"]))[0].payload
    assert event["was_paid"] is True
    assert event["reversed"] == {"gross": "1400.00", "discount": "0.00", "net": "1400.00", "cost": "800.00",
                                 "margin": "600.00"}
    assert event["returned"]["net"] == "700.00"
    changes = await event_log.wait_type("orders.loyalty.tier_changed", count=2, customer_id=customer)
    assert [(c.payload["previous_tier"], c.payload["tier"], c.payload["reason"]) for c in changes] == [
        ("base", "silver", "accrual"), ("silver", "base", "cancellation")]


async def test_idempotency_key_replays_the_first_answer_and_refuses_a_different_body(
        client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    customer = directory.add()
    product = await create_product(client)
    body = order_body(customer, (product, 2))
    headers = {**MANAGER, "Idempotency-Key": "order-form-1"}
    first = await client.post("/orders", json=body, headers=headers)
    assert first.status_code == 201
    retry = await client.post("/orders", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["location"] == f"/orders/{first.json()['id']}"
    changed = {**body, "lines": [{"product_id": product["id"], "quantity": 3}]}
    assert_problem(await client.post("/orders", json=changed, headers=headers), 422)
    # Keys belong to the caller who sent them: another employee's same key is another order.
    other = await client.post("/orders", json=body, headers={**SUPPORT, "Idempotency-Key": "order-form-1"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert_problem(await client.post("/orders", json=body, headers={**MANAGER, "Idempotency-Key": "k" * 201}), 422)
    page = (await client.get("/orders", params={"customer_id": customer}, headers=ANALYST)).json()
    assert len(page["items"]) == 2

    await pay(client, first.json()["id"])
    return_url = f"/orders/{first.json()['id']}/returns"
    return_body = {"lines": [{"product_id": product["id"], "quantity": 1}]}
    key = {**MANAGER, "Idempotency-Key": "rma-1"}
    made = await client.post(return_url, json=return_body, headers=key)
    assert made.status_code == 201
    replay = await client.post(return_url, json=return_body, headers=key)
    assert replay.status_code == 201 and replay.json() == made.json()
    assert_problem(await client.post(return_url, json={"lines": [{"product_id": product["id"], "quantity": 2}]},
                                     headers=key), 422)
    assert len((await client.get(return_url, headers=ANALYST)).json()) == 1


async def test_a_retry_gets_its_first_answer_even_when_the_order_could_not_be_placed_now(
        client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    # POST /orders claims its key at the end, without looking first: a retry whose work fails now
    # (the product is no longer sold) must still get the first answer, not the failure.
    customer = directory.add()
    product = await create_product(client)
    body = order_body(customer, (product, 1))
    headers = {**MANAGER, "Idempotency-Key": "till-7-receipt-1"}
    first = await client.post("/orders", json=body, headers=headers)
    assert first.status_code == 201
    assert (await client.patch(f"/products/{product['id']}", json={"active": False}, headers=MANAGER)).is_success
    retry = await client.post("/orders", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json() == first.json()
    # Without the key the same body is refused: the product is not sold any more.
    assert_problem(await client.post("/orders", json=body, headers=MANAGER), 422)
    # With another body under the same key: the key's misuse, not the product, is the answer.
    other = {**body, "note": "another receipt"}
    assert "Idempotency-Key" in assert_problem(await client.post("/orders", json=other, headers=headers),
                                               422)["detail"]
    page = (await client.get("/orders", params={"customer_id": customer}, headers=ANALYST)).json()
    assert [o["id"] for o in page["items"]] == [first.json()["id"]]


async def test_customers_that_cannot_order_are_refused_clearly(client: httpx.AsyncClient,
                                                               directory: FakeDirectory) -> None:
    product = await create_product(client)
    survivor = directory.add()
    merged = directory.add(status="merged", merged_into_id=survivor)
    erased = directory.add(status="erased")

    body = assert_problem(await client.post("/orders", json=order_body(merged, (product, 1)), headers=MANAGER),
                          409, "customer-merged")
    assert body["survivor_id"] == survivor and survivor in body["detail"]
    assert_problem(await client.post("/orders", json=order_body(erased, (product, 1)), headers=MANAGER),
                   410, "customer-erased")
    unknown = assert_problem(await client.post("/orders", json=order_body("no-such-customer", (product, 1)),
                                               headers=MANAGER), 422, "customer-unknown")
    assert unknown["customer_id"] == "no-such-customer"

    await place(client, survivor, (product, 1))
    assert directory.calls.count(survivor) == 1
    fresh = directory.add()
    directory.down = True
    try:
        down = assert_problem(await client.post("/orders", json=order_body(fresh, (product, 1)), headers=MANAGER),
                              503, "dependency-unavailable")
        assert down["customer_id"] == fresh
        # A customer the replica already knows needs no call: orders go on while customers is down.
        await place(client, survivor, (product, 1))
        assert directory.calls.count(survivor) == 1
    finally:
        directory.down = False
    assert (await client.post("/orders", json=order_body(fresh, (product, 1)), headers=MANAGER)).status_code == 201
    page = (await client.get(f"/customers/{merged}/orders", headers=ANALYST)).json()
    assert page["items"] == []


async def test_bad_order_requests_are_4xx_problems(client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    customer = directory.add()
    product = await create_product(client)
    retired = await create_product(client, active=False)
    dollars = await create_product(client, currency="USD", price="3.50", cost="2.00")
    good = order_body(customer, (product, 1))

    for bad in (
        {**good, "lines": []},
        {**good, "lines": [{"product_id": product["id"], "quantity": 0}]},
        {**good, "lines": [{"product_id": product["id"], "quantity": -2}]},
        {**good, "lines": [{"product_id": product["id"], "quantity": 1.5}]},
        {**good, "lines": [{"product_id": product["id"], "quantity": "2"}]},
        {**good, "lines": [{"product_id": product["id"], "quantity": 10**9}]},
        {**good, "lines": [{"product_id": product["id"], "quantity": 1}, {"product_id": product["id"], "quantity": 1}]},
        {**good, "channel": "pigeon"},
        {**good, "customer_id": "../admin"},
        {**good, "customer_id": ""},
        {**good, "sales_employee_id": None},
        {**good, "discount_percent": "50"},
        {k: v for k, v in good.items() if k != "channel"},
        {**good, "note": "nul \u0000 byte"},
    ):
        assert_problem(await client.post("/orders", json=bad, headers=MANAGER), 422)
    assert_problem(await client.post("/orders", content=b"{not json", headers={**MANAGER,
                                                                               "content-type": "application/json"}),
                   422)
    unknown = assert_problem(await client.post("/orders", json=order_body(customer, ("nope", 1)), headers=MANAGER),
                             422)
    assert unknown["product_ids"] == ["nope"]
    assert_problem(await client.post("/orders", json=order_body(customer, (retired, 1)), headers=MANAGER), 422)
    huge = await create_product(client, price="999999999999999.99", cost="1.00")
    too_big = assert_problem(await client.post("/orders", json=order_body(customer, (huge, 2)), headers=MANAGER), 422)
    assert "less than" in too_big["detail"]
    mixed = assert_problem(await client.post("/orders", json=order_body(customer, (product, 1), (dollars, 1)),
                                             headers=MANAGER), 422)
    assert mixed["currencies"] == ["IDR", "USD"]

    assert_problem(await client.post("/orders", json=good), 401)
    assert_problem(await client.post("/orders", json=good, headers=ANALYST), 403)
    assert_problem(await client.post("/orders", json=good, headers=SERVICE), 403)
    for path in ("/orders/nope", "/orders/nope/returns"):
        assert_problem(await client.get(path, headers=ANALYST), 404, "order-not-found")
    for path in ("/orders/a%00b", "/orders/%20", "/customers/a%00/orders", "/loyalty/customers/a%00"):
        assert_problem(await client.get(path, headers=ANALYST), 422)
    for action in ("pay", "fulfil", "cancel", "returns"):
        assert_problem(await client.post(f"/orders/nope/{action}", headers=MANAGER), 404)
    order = await place(client, customer, (product, 1))
    assert_problem(await client.post(f"/orders/{order['id']}/pay", json={"method": "barter"}, headers=MANAGER), 422)
    assert_problem(await client.post(f"/orders/{order['id']}/pay", headers=ANALYST), 403)
    for params in ({"status": "lost"}, {"placed_from": "2026-01-01T00:00:00"},
                   {"placed_from": "2026-02-01T00:00:00Z", "placed_to": "2026-01-01T00:00:00Z"},
                   {"cursor": "bm90LWEtY3Vyc29y"}, {"limit": 1000}, {"customer_id": "a/b"},
                   {"placed_from": "0001-01-01T00:00:00+05:00"}, {"sales_employee_id": "x\x00"}):
        assert_problem(await client.get("/orders", params=params, headers=ANALYST), 422)


async def test_listing_filters_and_pages_through_orders(client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    customer, other = directory.add(), directory.add()
    product = await create_product(client, price="10.00", cost="4.00")
    ids = []
    for n in range(5):
        order = await place(client, customer, (product, n + 1), sales_employee_id=f"emp-list-{n % 2}")
        ids.append(order["id"])
    await place(client, other, (product, 1))
    await pay(client, ids[0])
    await pay(client, ids[1])

    seen: list[str] = []
    cursor = None
    while True:
        params = {"customer_id": customer, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/orders", params=params, headers=ANALYST)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, every order once

    by_customer = (await client.get(f"/customers/{customer}/orders", params={"limit": 50}, headers=SERVICE)).json()
    assert [o["id"] for o in by_customer["items"]] == list(reversed(ids))
    paid = (await client.get(f"/customers/{customer}/orders", params={"status": "paid"}, headers=SERVICE)).json()
    assert {o["id"] for o in paid["items"]} == {ids[0], ids[1]}
    by_employee = (await client.get("/orders", params={"sales_employee_id": "emp-list-1", "customer_id": customer},
                                    headers=ANALYST)).json()
    assert {o["id"] for o in by_employee["items"]} == {ids[1], ids[3]}
    placed = [(await client.get(f"/orders/{i}", headers=ANALYST)).json()["placed_at"] for i in ids]
    window = (await client.get("/orders", params={"customer_id": customer, "placed_from": placed[1],
                                                  "placed_to": placed[3]}, headers=ANALYST)).json()
    assert {o["id"] for o in window["items"]} == {ids[1], ids[2]}
    assert (await client.get("/orders", params={"customer_id": customer, "placed_from": "2000-01-01T00:00:00+07:00",
                                                "placed_to": "2000-01-02T00:00:00+07:00"},
                             headers=ANALYST)).json()["items"] == []


async def test_a_long_token_subject_is_recorded_in_full(client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    """The identity provider decides how long a subject is (auth accepts up to 200 characters)."""
    who = bearer("manager", subject="m" * 200)
    admin = bearer("admin", subject="a" * 200)
    customer = directory.add()
    created = await client.post("/products", headers=who, json={
        "sku": unique("LONG-"), "name": "Kertas", "category": "paper", "unit_price": "100.00", "unit_cost": "1.00"})
    assert created.status_code == 201, created.text
    product = created.json()
    repriced = await client.patch(f"/products/{product['id']}", json={"unit_price": "120.00"}, headers=who)
    assert repriced.status_code == 200, repriced.text
    prices = (await client.get(f"/products/{product['id']}/prices", headers=ANALYST)).json()
    assert {p["recorded_by"] for p in prices} == {"m" * 200}

    order = await place(client, customer, (product, 2), headers=who)
    assert order["placed_by"] == "m" * 200
    await pay(client, order["id"])
    returned = await client.post(f"/orders/{order['id']}/returns", json={}, headers=who)
    assert returned.status_code == 201, returned.text
    assert returned.json()["created_by"] == "m" * 200
    program = await client.put("/loyalty/program", json={"tiers": TIERS}, headers=admin)
    assert program.status_code == 200, program.text
    assert program.json()["created_by"] == "a" * 200


async def test_customer_ids_are_at_most_36_characters_like_the_customers_service_takes(
        client: httpx.AsyncClient, directory: FakeDirectory) -> None:
    product = await create_product(client)
    too_long = "a" * 37
    directory.add(too_long)  # even if someone claimed it existed, it cannot be a customers id
    body = assert_problem(await client.post("/orders", json=order_body(too_long, (product, 1)), headers=MANAGER), 422)
    assert body["errors"][0]["loc"][-1] == "customer_id"
    assert too_long not in directory.calls
    for path in (f"/customers/{too_long}/orders", f"/loyalty/customers/{too_long}",
                 f"/loyalty/customers/{too_long}/ledger"):
        assert_problem(await client.get(path, headers=ANALYST), 422)
    assert_problem(await client.get("/orders", params={"customer_id": too_long}, headers=ANALYST), 422)
    longest = directory.add("b" * 36)
    assert (await place(client, longest, (product, 1)))["customer_id"] == longest


async def test_history_recorded_after_the_fact_keeps_its_instants_in_order(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    """An import of an older system's orders: placed, paid, returned and cancelled at past instants."""
    from datetime import UTC, datetime, timedelta

    customer = directory.add()
    paper = await create_product(client, price="50.00", cost="30.00")
    year_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=365)
    iso = lambda at: at.isoformat().replace("+00:00", "Z")  # noqa: E731

    kept = await place(client, customer, (paper, 4), placed_at=iso(year_ago))
    assert kept["placed_at"] == iso(year_ago)
    # Paid before it was placed, or in the future: refused, nothing recorded.
    for paid_at in (iso(year_ago - timedelta(hours=1)), iso(datetime.now(UTC) + timedelta(hours=1)), 0,
                    "2025-06-01T10:00:00"):
        refused = await client.post(f"/orders/{kept['id']}/pay", json={"paid_at": paid_at}, headers=MANAGER)
        assert_problem(refused, 422)
    paid = await client.post(f"/orders/{kept['id']}/pay", headers=MANAGER,
                             json={"method": "cash", "paid_at": iso(year_ago + timedelta(days=2))})
    assert paid.status_code == 200, paid.text
    assert paid.json()["paid_at"] == iso(year_ago + timedelta(days=2))
    ledger = await ledger_of(client, customer)
    assert [(e["kind"], e["effective_at"]) for e in ledger] == [("accrual", iso(year_ago + timedelta(days=2)))]

    assert_problem(await client.post(f"/orders/{kept['id']}/returns", headers=MANAGER, json={
        "lines": [{"product_id": paper["id"], "quantity": 1}], "returned_at": iso(year_ago + timedelta(days=1))}), 422)
    returned = await client.post(f"/orders/{kept['id']}/returns", headers=MANAGER, json={
        "lines": [{"product_id": paper["id"], "quantity": 1}], "returned_at": iso(year_ago + timedelta(days=9))})
    assert returned.status_code == 201, returned.text

    dropped = await place(client, customer, (paper, 1), placed_at=iso(year_ago + timedelta(days=30)))
    assert_problem(await client.post(f"/orders/{dropped['id']}/cancel", headers=MANAGER,
                                     json={"cancelled_at": iso(year_ago + timedelta(days=29))}), 422)
    cancelled = await client.post(f"/orders/{dropped['id']}/cancel", headers=MANAGER,
                                  json={"cancelled_at": iso(year_ago + timedelta(days=31))})
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"] == iso(year_ago + timedelta(days=31))

    events = {r.type: r for r in await event_log.wait_for(
        lambda r: r.envelope.get("aggregate_id") in (kept["id"], dropped["id"])
        and r.type != "orders.order.placed", count=3)}
    assert events["orders.order.paid"].payload["paid_at"] == iso(year_ago + timedelta(days=2))
    assert events["orders.order.returned"].payload["returned_at"] == iso(year_ago + timedelta(days=9))
    assert events["orders.order.cancelled"].payload["cancelled_at"] == iso(year_ago + timedelta(days=31))
