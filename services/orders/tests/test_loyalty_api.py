"""The loyalty API against the real database and broker: program, tiers, ledger, tier events.

This module's database starts without a program, so the first test sees the default; tests of
the default program itself use a database of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.orders.app import create_app
from services.orders.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SERVICE,
    TIERS,
    EventLog,
    FakeDirectory,
    assert_problem,
    create_product,
    ledger_of,
    loyalty_of,
    pay,
    place,
    put_program,
    settings_for,
)
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

pytestmark = pytest.mark.integration


async def test_program_starts_as_the_demo_companys_tiers_and_only_admin_changes_it(
        client: httpx.AsyncClient) -> None:
    default = await client.get("/loyalty/program", headers=ANALYST)
    assert default.status_code == 200
    assert default.json() == {"version": 0, "currency": "IDR", "qualifying_window": "lifetime", "window_months": None,
                              "downgrade": "never", "created_by": None, "created_at": None,
                              "tiers": [{"name": "base", "threshold": "0.00", "discount_percent": "0.00"},
                                        {"name": "silver", "threshold": "10000000.00", "discount_percent": "2.00"},
                                        {"name": "gold", "threshold": "50000000.00", "discount_percent": "3.50"},
                                        {"name": "platinum", "threshold": "150000000.00",
                                         "discount_percent": "5.00"}]}
    body = {"tiers": TIERS, "qualifying_window": "rolling", "window_months": 12, "downgrade": "reevaluate"}
    assert_problem(await client.put("/loyalty/program", json=body, headers=MANAGER), 403)
    assert_problem(await client.put("/loyalty/program", json=body, headers=SERVICE), 403)
    assert_problem(await client.put("/loyalty/program", json=body), 401)

    bad_programs = [
        {"tiers": TIERS[1:]},  # no base tier at 0
        {"tiers": [TIERS[0], TIERS[2], TIERS[1]]},  # thresholds not ascending
        {"tiers": [TIERS[0], {**TIERS[1], "threshold": "0"}]},
        {"tiers": [TIERS[0], {**TIERS[1], "discount_percent": "100.01"}]},
        {"tiers": [TIERS[0], {**TIERS[1], "discount_percent": "-1"}]},
        {"tiers": [TIERS[0], {**TIERS[1], "threshold": "1000.001"}]},
        {"tiers": [TIERS[0], {**TIERS[1], "name": "BASE"}]},
        {"tiers": [TIERS[0], {**TIERS[1], "discount_percent": "10"}, {**TIERS[2], "discount_percent": "5"}]},
        {"tiers": []},
        {"tiers": TIERS, "qualifying_window": "rolling"},  # no months
        {"tiers": TIERS, "window_months": 6},  # months without a rolling window
        {"tiers": TIERS, "qualifying_window": "rolling", "window_months": 0},
        {"tiers": TIERS, "downgrade": "sometimes"},
        {"tiers": TIERS, "currency": "USD"},
        {"tiers": [{**TIERS[0], "threshold": "abc"}]},
    ]
    for bad in bad_programs:
        assert_problem(await client.put("/loyalty/program", json=bad, headers=ADMIN), 422)

    saved = await client.put("/loyalty/program", json={**body, "currency": "idr"}, headers=ADMIN)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["created_by"] == "adm-1"
    assert saved.json()["tiers"] == [{"name": "base", "threshold": "0.00", "discount_percent": "0.00"},
                                     {"name": "silver", "threshold": "1000.00", "discount_percent": "5.00"},
                                     {"name": "gold", "threshold": "5000.00", "discount_percent": "12.50"}]
    assert (await client.get("/loyalty/program", headers=SERVICE)).json() == saved.json()
    again = await put_program(client)  # lifetime, never
    assert again["version"] == 2 and again["qualifying_window"] == "lifetime"


async def test_spend_moves_the_tier_both_ways_and_every_change_is_announced(
        client: httpx.AsyncClient, directory: FakeDirectory, event_log: EventLog) -> None:
    await put_program(client)
    customer = directory.add()
    product = await create_product(client, price="250.00", cost="100.00")

    order = await pay(client, (await place(client, customer, (product, 3)))["id"])  # 750.00
    status = await loyalty_of(client, customer)
    assert (status["spend_in_window"], status["tier"]["name"], status["discount_percent"]) == ("750.00", "base",
                                                                                              "0.00")
    assert status["next_tier"]["name"] == "silver" and status["amount_to_next_tier"] == "250.00"

    exactly = await pay(client, (await place(client, customer, (product, 1)))["id"])  # 1000.00: exactly silver
    status = await loyalty_of(client, customer)
    assert (status["spend_in_window"], status["tier"]["name"], status["discount_percent"]) == ("1000.00", "silver",
                                                                                              "5.00")
    assert status["next_tier"]["name"] == "gold" and status["amount_to_next_tier"] == "4000.00"
    assert status["tier_changed_at"] is not None

    discounted = await place(client, customer, (product, 1))
    assert (discounted["loyalty_tier"], discounted["discount"], discounted["net"]) == ("silver", "12.50", "237.50")

    # Returning one unit of the first order: 999.99 would keep silver, 750.00 does not.
    back = await client.post(f"/orders/{order['id']}/returns",
                             json={"lines": [{"product_id": product["id"], "quantity": 1}]}, headers=MANAGER)
    assert back.status_code == 201
    status = await loyalty_of(client, customer)
    assert (status["spend_in_window"], status["tier"]["name"]) == ("750.00", "base")
    # The order placed while silver keeps the discount recorded on it.
    assert (await client.get(f"/orders/{discounted['id']}", headers=ANALYST)).json()["discount"] == "12.50"

    changes = await event_log.wait_type("orders.loyalty.tier_changed", count=2, customer_id=customer)
    up, down = changes
    assert up.key == customer and up.envelope["aggregate_id"] == customer
    assert {k: up.payload[k] for k in ("previous_tier", "tier", "previous_discount_percent", "discount_percent",
                                       "spend_in_window", "currency", "reason", "order_id")} == {
        "previous_tier": "base", "tier": "silver", "previous_discount_percent": "0.00", "discount_percent": "5.00",
        "spend_in_window": "1000.00", "currency": "IDR", "reason": "accrual", "order_id": exactly["id"]}
    assert (down.payload["tier"], down.payload["reason"], down.payload["order_id"]) == ("base", "return", order["id"])
    assert down.payload["spend_in_window"] == "750.00"

    ledger = await ledger_of(client, customer)
    assert [(e["kind"], e["amount"]) for e in ledger] == [("return", "-250.00"), ("accrual", "250.00"),
                                                         ("accrual", "750.00")]
    first_page = (await client.get(f"/loyalty/customers/{customer}/ledger", params={"limit": 2},
                                   headers=ANALYST)).json()
    assert len(first_page["items"]) == 2 and first_page["next_cursor"]
    rest = (await client.get(f"/loyalty/customers/{customer}/ledger",
                             params={"limit": 2, "cursor": first_page["next_cursor"]}, headers=ANALYST)).json()
    assert [e["id"] for e in rest["items"]] == [ledger[2]["id"]] and rest["next_cursor"] is None


async def test_a_program_change_reevaluates_every_customer(client: httpx.AsyncClient, directory: FakeDirectory,
                                                           event_log: EventLog) -> None:
    await put_program(client)
    customer = directory.add()
    product = await create_product(client, price="600.00", cost="300.00")
    await pay(client, (await place(client, customer, (product, 1)))["id"])
    assert (await loyalty_of(client, customer))["tier"]["name"] == "base"

    lower = [TIERS[0], {"name": "bronze", "threshold": "500.00", "discount_percent": "2.5"}, *TIERS[1:]]
    program = await put_program(client, tiers=lower)
    status = await loyalty_of(client, customer)
    assert (status["tier"]["name"], status["discount_percent"], status["program_version"]) == (
        "bronze", "2.50", program["version"])
    change = (await event_log.wait_type("orders.loyalty.tier_changed", customer_id=customer,
                                        reason="program_changed"))[0]
    assert (change.payload["tier"], change.payload["program_version"]) == ("bronze", program["version"])

    swept = await client.post("/loyalty/reevaluate", headers=SERVICE)
    assert swept.status_code == 200 and swept.json()["tier_changes"] == 0 and swept.json()["accounts"] >= 1
    assert_problem(await client.post("/loyalty/reevaluate", headers=ANALYST), 403)
    await put_program(client)  # leave the usual program for the other tests


async def test_loyalty_reads_refuse_what_they_cannot_answer(client: httpx.AsyncClient,
                                                            directory: FakeDirectory) -> None:
    assert_problem(await client.get("/loyalty/customers/never-seen", headers=ANALYST), 404)
    ledger = await client.get("/loyalty/customers/never-seen/ledger", headers=ANALYST)
    assert ledger.status_code == 200 and ledger.json() == {"items": [], "next_cursor": None}
    assert_problem(await client.get("/loyalty/customers/x/ledger", params={"cursor": "e30"}, headers=ANALYST), 422)
    assert_problem(await client.get("/loyalty/customers/x"), 401)

    survivor = directory.add()
    merged = directory.add(status="merged", merged_into_id=survivor)
    product = await create_product(client)
    assert_problem(await client.post("/orders", json={"customer_id": merged, "channel": "store",
                                                      "sales_employee_id": "e",
                                                      "lines": [{"product_id": product["id"], "quantity": 1}]},
                                     headers=MANAGER), 409)
    body = assert_problem(await client.get(f"/loyalty/customers/{merged}", headers=ANALYST), 409)
    assert body["survivor_id"] == survivor

    newcomer = directory.add()
    await place(client, newcomer, (product, 1))  # known now, nothing paid yet
    status = await loyalty_of(client, newcomer)
    assert (status["spend_in_window"], status["lifetime_spend"], status["tier"]["name"]) == ("0.00", "0.00", "base")


@pytest.fixture
async def unconfigured(database_url: str, topics: str) -> AsyncIterator[tuple[httpx.AsyncClient, FakeDirectory]]:
    """An orders app over a database where no administrator ever put a program."""
    directory = FakeDirectory()
    async with app_client(create_app(settings_for(database_url, topics, bus_enabled=False),
                                     customer_directory=directory, staff_lookup=AnyEmployee())) as client:
        yield client, directory


async def test_until_a_program_is_put_the_default_tiers_give_their_discounts(
        unconfigured: tuple[httpx.AsyncClient, FakeDirectory]) -> None:
    client, directory = unconfigured
    customer = directory.add()
    paper = await create_product(client, price="2500000.00", cost="2000000.00")
    first = await place(client, customer, (paper, 4))  # 10,000,000 IDR: exactly silver's threshold
    assert (first["loyalty_tier"], first["discount_percent"]) == ("base", "0.00")
    await pay(client, first["id"])
    status = await loyalty_of(client, customer)
    assert (status["tier"]["name"], status["discount_percent"], status["program_version"]) == ("silver", "2.00", 0)
    assert (status["next_tier"]["name"], status["amount_to_next_tier"]) == ("gold", "40000000.00")
    second = await place(client, customer, (paper, 1))
    assert (second["loyalty_tier"], second["discount_percent"], second["discount"]) == ("silver", "2.00", "50000.00")
