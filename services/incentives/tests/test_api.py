"""The HTTP API against real PostgreSQL and Kafka: directory, weights, plans, policy, gifts, awards,
and every refusal (4xx problem+json that writes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.incentives.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SERVICE,
    SUPPORT,
    Bus,
    assert_problem,
    eventually,
    fresh_year,
    hire,
    order_line,
    paid_event,
    product_event,
    unique,
)
from shared.testing.events import EventLog

pytestmark = pytest.mark.integration

JAKARTA = ZoneInfo("Asia/Jakarta")


def tomorrow() -> str:
    return str((datetime.now(JAKARTA) + timedelta(days=1)).date())


# ----- staff directory --------------------------------------------------------------------------

async def test_hire_update_leave_and_rehire_publish_snapshots_keyed_by_employee(
        client: httpx.AsyncClient, event_log: EventLog) -> None:
    employee_id = unique("emp-")
    created = await hire(client, id=employee_id, name="Budi Santoso", role="account_manager")
    assert (created["id"], created["active"], created["revision"]) == (employee_id, True, 1)
    assert (await client.get(f"/employees/{employee_id}", headers=SUPPORT)).json()["name"] == "Budi Santoso"

    moved = await client.patch(f"/employees/{employee_id}", json={"team": "surabaya"}, headers=MANAGER)
    assert moved.status_code == 200 and moved.json()["revision"] == 2
    left = await client.patch(f"/employees/{employee_id}", json={"active": False}, headers=MANAGER)
    assert left.json()["active"] is False and left.json()["left_on"] is not None
    back = await client.patch(f"/employees/{employee_id}", json={"active": True}, headers=MANAGER)
    assert (back.json()["active"], back.json()["left_on"], back.json()["revision"]) == (True, None, 4)

    events = await event_log.wait_for(lambda r: r.key == employee_id, count=4)
    assert [e.type for e in events] == ["incentives.employee.hired", "incentives.employee.updated",
                                        "incentives.employee.left", "incentives.employee.updated"]
    assert [e.payload["revision"] for e in events] == [1, 2, 3, 4]
    assert events[1].payload["changed_fields"] == ["team"]
    assert events[2].payload["active"] is False and events[2].payload["left_on"]

    # Deactivated employees stay in the directory, filtered by active.
    team = unique("team-")
    gone = await hire(client, team=team)
    await client.patch(f"/employees/{gone['id']}", json={"left_on": str(datetime.now(JAKARTA).date())},
                       headers=MANAGER)
    stay = await hire(client, team=team, role="support")
    listed = (await client.get("/employees", params={"team": team, "active": "false"}, headers=ANALYST)).json()
    assert [e["id"] for e in listed["items"]] == [gone["id"]]
    listed = (await client.get("/employees", params={"team": team, "role": "support"}, headers=SERVICE)).json()
    assert [e["id"] for e in listed["items"]] == [stay["id"]]


async def test_directory_pagination_is_keyset_and_complete(client: httpx.AsyncClient) -> None:
    team = unique("team-")
    ids = sorted([(await hire(client, team=team))["id"] for _ in range(5)])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"team": team, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/employees", params=params, headers=ANALYST)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids


@pytest.mark.parametrize("body", [
    {"name": "x", "role": "sales"},  # no hire date
    {"name": "x", "role": "cashier", "hired_on": "2024-01-01"},
    {"name": "x", "role": "sales", "hired_on": 1704067200},
    {"name": "x", "role": "sales", "hired_on": "2024-02-30"},
    {"name": "x", "role": "sales", "hired_on": "2999-01-01"},
    {"name": "x", "role": "sales", "hired_on": "2024-01-01", "active": "yes"},
    {"name": "x", "role": "sales", "hired_on": "2024-01-01", "left_on": "2023-01-01"},
    {"name": "x", "role": "sales", "hired_on": "2024-01-01", "email": "not-an-email"},
    {"name": "x", "role": "sales", "hired_on": "2024-01-01", "salary": "1"},
    {"name": "a\u0000b", "role": "sales", "hired_on": "2024-01-01"},
    {"id": "a b", "name": "x", "role": "sales", "hired_on": "2024-01-01"},
])
async def test_bad_employees_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert_problem(await client.post("/employees", json=body, headers=MANAGER), 422)


async def test_directory_conflicts_and_refusals(client: httpx.AsyncClient) -> None:
    first = await hire(client, email="Same.Person@pelanggan.example")
    clash = await client.post("/employees", json={"name": "y", "role": "sales", "hired_on": "2024-01-01",
                                                   "email": "same.person@PELANGGAN.example"}, headers=MANAGER)
    assert assert_problem(clash, 409)["existing_employee_id"] == first["id"]
    again = await client.post("/employees", json={"id": first["id"], "name": "y", "role": "sales",
                                                   "hired_on": "2024-01-01"}, headers=MANAGER)
    assert_problem(again, 409)
    assert_problem(await client.get(f"/employees/{unique()}", headers=ANALYST), 404, "employee-not-found")
    assert_problem(await client.patch(f"/employees/{unique()}", json={"name": "z"}, headers=MANAGER), 404)
    assert_problem(await client.patch(f"/employees/{first['id']}", json={}, headers=MANAGER), 422)
    assert_problem(await client.patch(f"/employees/{first['id']}", json={"name": None}, headers=MANAGER), 422)
    assert_problem(await client.patch(f"/employees/{first['id']}", json={"left_on": "2999-01-01"},
                                      headers=MANAGER), 422)
    assert_problem(await client.patch(f"/employees/{first['id']}", json={"left_on": "2000-01-01"},
                                      headers=MANAGER), 422)
    # Roles: support and analysts read the directory but do not change it; no token is a 401.
    assert_problem(await client.post("/employees", json={"name": "x", "role": "sales", "hired_on": "2024-01-01"},
                                     headers=SUPPORT), 403)
    assert_problem(await client.patch(f"/employees/{first['id']}", json={"name": "z"}, headers=ANALYST), 403)
    assert_problem(await client.get("/employees"), 401)
    assert (await client.get(f"/employees/{first['id']}", headers=ANALYST)).json()["name"] == first["name"]


# ----- products and weights ----------------------------------------------------------------------

async def known_product(client: httpx.AsyncClient, bus: Bus, category: str = "printers") -> str:
    product_id = unique("prod-")
    await bus.publish(product_event(product_id, category), key=product_id, aggregate_id=product_id)

    async def arrived() -> None:
        assert (await client.get(f"/products/{product_id}/weights", headers=ANALYST)).status_code == 200

    await eventually(arrived)
    return product_id


async def test_weights_are_effective_dated_never_retroactive_and_announced(
        client: httpx.AsyncClient, bus: Bus, event_log: EventLog) -> None:
    product_id = await known_product(client, bus, category=unique("cat-"))
    listed = (await client.get("/products", params={"category": (await _category(client, product_id))},
                               headers=SUPPORT)).json()["items"]
    assert [(p["product_id"], p["weight"], p["locomotive"]) for p in listed] == [(product_id, "1", False)]

    later = str((datetime.now(JAKARTA) + timedelta(days=10)).date())
    first = await client.put(f"/products/{product_id}/weight", json={"weight": "1.5", "locomotive": True},
                             headers=MANAGER)
    assert first.status_code == 200, first.text
    assert (first.json()["effective_from"], first.json()["weight"]) == (tomorrow(), "1.5000")
    second = await client.put(f"/products/{product_id}/weight",
                              json={"weight": "2.25", "locomotive": True, "effective_from": later}, headers=MANAGER)
    assert second.status_code == 200
    history = (await client.get(f"/products/{product_id}/weights", headers=ANALYST)).json()
    assert [(h["effective_from"], h["weight"]) for h in history] == [(later, "2.2500"), (tomorrow(), "1.5000")]
    # Today still the neutral weight: the change is scheduled, not retroactive.
    now = (await client.get("/products", params={"category": await _category(client, product_id)},
                            headers=ANALYST)).json()["items"][0]
    assert (now["weight"], now["next_change"]["effective_from"]) == ("1", tomorrow())

    # No sale of it is counted yet: a past date changes no figure anyone has seen (an imported history).
    today = str(datetime.now(JAKARTA).date())
    year_ago = str((datetime.now(JAKARTA) - timedelta(days=365)).date())
    backfilled = await client.put(f"/products/{product_id}/weight",
                                  json={"weight": "1.2", "effective_from": year_ago}, headers=MANAGER)
    assert backfilled.status_code == 200, backfilled.text
    assert backfilled.json()["effective_from"] == year_ago
    # Once a sale is counted (paid a week ago), a change on or before that day would rewrite it: refused.
    seller, customer, order_id = (await hire(client))["id"], unique("c-"), unique("o-")
    paid_at = datetime.now(UTC) - timedelta(days=7)
    await bus.publish(paid_event(order_id, customer, seller, [order_line(1, product_id, "100.00")], paid_at),
                      key=customer, aggregate_id=order_id, customer_id=customer)

    async def counted() -> None:
        lines = (await client.get(f"/periods/{paid_at.astimezone(JAKARTA):%Y-%m}/lines",
                                  params={"employee_id": seller}, headers=ANALYST)).json()["items"]
        assert [line["weight"] for line in lines] == ["1.2000"]

    await eventually(counted)
    for refused_day in (year_ago, str(paid_at.astimezone(JAKARTA).date())):
        refused = await client.put(f"/products/{product_id}/weight",
                                   json={"weight": "3", "effective_from": refused_day}, headers=MANAGER)
        assert_problem(refused, 422)
        assert refused.json()["earliest"] == tomorrow()
    # Today is after that sale: nothing counted since, so nothing is rewritten.
    assert (await client.put(f"/products/{product_id}/weight", json={"weight": "1.1", "effective_from": today},
                             headers=MANAGER)).status_code == 200
    for bad in ({"weight": "0"}, {"weight": "-1"}, {"weight": 1.5}, {"weight": "1e2"}, {"weight": "abc"},
                {"weight": "1", "locomotive": "true"}, {"weight": "1", "effective_from": "tomorrow"}):
        assert_problem(await client.put(f"/products/{product_id}/weight", json=bad, headers=MANAGER), 422)
    assert_problem(await client.put(f"/products/{unique()}/weight", json={"weight": "1"}, headers=MANAGER), 404,
                   "product-not-found")
    assert_problem(await client.get(f"/products/{unique()}/weights", headers=MANAGER), 404)
    assert_problem(await client.put(f"/products/{product_id}/weight", json={"weight": "1"}, headers=SUPPORT), 403)

    announced = await event_log.wait_for(lambda r: r.type == "incentives.product.weight_set" and r.key == product_id,
                                         count=2)
    assert [(e.payload["weight"], e.payload["previous_weight"]) for e in announced[:2]] == [
        ("1.5000", None), ("2.2500", "1.5000")]
    assert announced[0].payload["locomotive"] is True
    assert announced[0].payload["effective_at"].startswith(
        (datetime.fromisoformat(tomorrow()).replace(tzinfo=JAKARTA).astimezone(UTC)).strftime("%Y-%m-%dT%H:%M"))


async def _category(client: httpx.AsyncClient, product_id: str) -> str:
    cursor = None
    while True:
        page = (await client.get("/products", params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                                 headers=ANALYST)).json()
        for item in page["items"]:
            if item["product_id"] == product_id:
                return item["category"]
        cursor = page["next_cursor"]
        assert cursor, "product not listed"


# ----- plans, bonus policy ---------------------------------------------------------------------

async def test_plans_are_replaced_whole_and_name_unknown_employees(client: httpx.AsyncClient) -> None:
    period = f"{fresh_year()}-05"
    a, b = await hire(client), await hire(client)
    body = {"company_target_points": "12000000.00", "company_category_targets": {"Printers": "5000000"},
            "employees": [{"employee_id": a["id"], "target_points": "6000000", "category_targets": {"paper": "100"}},
                          {"employee_id": b["id"], "target_points": "4000000"}]}
    put = await client.put(f"/plans/{period}", json=body, headers=MANAGER)
    assert put.status_code == 200, put.text
    assert put.json()["company_category_targets"] == {"printers": "5000000"}
    again = await client.put(f"/plans/{period}", json={**body, "employees": body["employees"][:1]}, headers=MANAGER)
    assert again.json()["revision"] == 2
    got = (await client.get(f"/plans/{period}", headers=ANALYST)).json()
    assert [(t["employee_id"], t["target_points"]) for t in got["employees"]] == [(a["id"], "6000000.00")]

    unknown = await client.put(f"/plans/{period}", json={"employees": [{"employee_id": "nobody-1",
                                                                         "target_points": "1"}]}, headers=MANAGER)
    assert assert_problem(unknown, 422, "employee-unknown")["employee_ids"] == ["nobody-1"]
    twice = {"employees": [{"employee_id": a["id"], "target_points": "1"}] * 2}
    assert_problem(await client.put(f"/plans/{period}", json=twice, headers=MANAGER), 422)
    for bad in ({"company_target_points": 100}, {"company_target_points": "-5"}, {"company_target_points": "1e9"},
                {"employees": [{"employee_id": a["id"]}]}):
        assert_problem(await client.put(f"/plans/{period}", json=bad, headers=MANAGER), 422)
    for bad_period in ("2026-13", "2026-1", "202601", "2026-01-01"):
        assert_problem(await client.put(f"/plans/{bad_period}", json={}, headers=MANAGER), 422)
    assert (await client.get(f"/plans/{period}", headers=ANALYST)).json()["revision"] == 2
    assert_problem(await client.get(f"/plans/{period}", headers=SUPPORT), 403)
    assert (await client.get(f"/plans/{fresh_year()}-01", headers=ANALYST)).json()["revision"] == 0


POLICY = {"rate_per_point": "0.01", "min_fulfilment_percent": "90",
          "accelerators": [{"above_percent": "100", "multiplier": "1.5"}, {"above_percent": "120", "multiplier": "2"}],
          "quality": {"complaint_penalty_percent": "10", "breach_penalty_percent": "5", "csat_neutral": "4",
                      "csat_step_percent": "10", "floor_percent": "50", "ceiling_percent": "110"},
          "cap": "80000.00"}


async def test_bonus_policy_versions_apply_from_their_period(client: httpx.AsyncClient) -> None:
    year = fresh_year()
    v1 = await client.put("/bonus-policy", json={**POLICY, "effective_from": f"{year}-02"}, headers=ADMIN)
    assert v1.status_code == 200, v1.text
    v2 = await client.put("/bonus-policy", json={**POLICY, "rate_per_point": "0.02", "effective_from": f"{year}-06"},
                          headers=ADMIN)
    in_april = (await client.get("/bonus-policy", params={"period": f"{year}-04"}, headers=ANALYST)).json()
    in_july = (await client.get("/bonus-policy", params={"period": f"{year}-07"}, headers=ANALYST)).json()
    assert (in_april["version"], in_april["rate_per_point"]) == (v1.json()["version"], "0.010000")
    assert (in_july["version"], in_july["rate_per_point"]) == (v2.json()["version"], "0.020000")
    versions = (await client.get("/bonus-policy/versions", headers=ANALYST)).json()
    assert versions[0]["version"] == v2.json()["version"]
    assert_problem(await client.get("/bonus-policy", params={"period": "0001-01"}, headers=ANALYST), 404)
    assert_problem(await client.put("/bonus-policy", json={**POLICY, "effective_from": f"{year}-02"},
                                    headers=MANAGER), 403)
    for bad in ({"accelerators": [{"above_percent": "90", "multiplier": "1.5"}]},
                {"accelerators": [{"above_percent": "120", "multiplier": "1.5"},
                                  {"above_percent": "110", "multiplier": "2"}]},
                {"accelerators": [{"above_percent": "100", "multiplier": "0.5"}]},
                {"quality": {"floor_percent": "120"}}, {"rate_per_point": "0"}, {"rate_per_point": 0.01},
                {"cap": "0"}, {"cap": "1e5"}, {"effective_from": "2026-13"}, {"bonus": "x"}):
        body = {**POLICY, "effective_from": f"{year}-03", **bad}
        assert_problem(await client.put("/bonus-policy", json=body, headers=ADMIN), 422)


# ----- gifts and awards -------------------------------------------------------------------------

async def test_gift_policy_on_create_and_patch(client: httpx.AsyncClient) -> None:
    laptop = await client.post("/gifts", json={"name": "Lenovo ThinkPad E14", "category": "computers_electronics",
                                               "value": "12500000.00", "description": "Laptop"}, headers=MANAGER)
    assert laptop.status_code == 201, laptop.text
    assert (laptop.json()["value"], laptop.json()["currency"]) == ("12500000.00", "IDR")
    tickets = await client.post("/gifts", json={"name": "Two tickets to watch the Jakarta Philharmonic",
                                                "category": "event_tickets", "value": "1500000"}, headers=MANAGER)
    assert tickets.status_code == 201

    disguised = await client.post("/gifts", json={"name": "Gold bracelet", "category": "computers_electronics",
                                                  "value": "5000000"}, headers=MANAGER)
    problem = assert_problem(disguised, 422, "gift-not-allowed")
    assert (problem["rule"], problem["field"], problem["matched"]) == ("jewellery", "name", "bracelet")
    by_category = assert_problem(await client.post("/gifts", json={"name": "Company polo", "category": "clothing",
                                                                   "value": "200000"}, headers=MANAGER), 422)
    assert by_category["rule"] == "clothing"
    malay = assert_problem(await client.post("/gifts", json={"name": "Hadiah istimewa", "category": "gift_certificates",
                                                             "description": "Minyak wangi dan kalung",
                                                             "value": "1"}, headers=MANAGER), 422)
    assert (malay["rule"], malay["field"]) == ("personal-items", "description")

    # Patching into a refused item is refused, and nothing changes.
    patched = await client.patch(f"/gifts/{laptop.json()['id']}", json={"description": "Laptop and a silver ring"},
                                 headers=MANAGER)
    assert assert_problem(patched, 422)["matched"] == "ring"
    assert (await client.get(f"/gifts/{laptop.json()['id']}", headers=SUPPORT)).json()["description"] == "Laptop"
    for bad in ({"name": "x", "category": "event_tickets", "value": 100}, {"name": "x", "category": "event_tickets",
                "value": "0"}, {"name": "x", "category": "event_tickets"}, {"name": "x", "category": "toys",
                "value": "1"}):
        assert_problem(await client.post("/gifts", json=bad, headers=MANAGER), 422)
    assert_problem(await client.patch(f"/gifts/{unique()}", json={"name": "x"}, headers=MANAGER), 404)
    assert_problem(await client.post("/gifts", json={"name": "x", "category": "event_tickets", "value": "1"},
                                     headers=ANALYST), 403)
    listed = (await client.get("/gifts", params={"category": "event_tickets"}, headers=SUPPORT)).json()["items"]
    assert tickets.json()["id"] in [g["id"] for g in listed]


async def test_awards_with_idempotency_and_the_recognition_wall(client: httpx.AsyncClient,
                                                                event_log: EventLog) -> None:
    period = f"{fresh_year()}-03"
    employee = await hire(client)
    gift = (await client.post("/gifts", json={"name": "Philips air fryer", "category": "household_appliances",
                                              "value": "1800000"}, headers=MANAGER)).json()
    body = {"employee_id": employee["id"], "period": period, "kind": "gift", "gift_id": gift["id"],
            "citation": "Best new customer onboarding"}
    first = await client.post("/awards", json=body, headers={**MANAGER, "Idempotency-Key": "award-1"})
    assert first.status_code == 201, first.text
    replay = await client.post("/awards", json=body, headers={**MANAGER, "Idempotency-Key": "award-1"})
    assert (replay.status_code, replay.json()["id"]) == (201, first.json()["id"])
    other = await client.post("/awards", json={**body, "citation": "x"},
                              headers={**MANAGER, "Idempotency-Key": "award-1"})
    assert_problem(other, 422)
    assert first.json()["gift_name"] == "Philips air fryer" and first.json()["amount"] == "1800000.00"

    cash = await client.post("/awards", json={"employee_id": employee["id"], "period": period, "kind": "cash",
                                              "amount": "250000.00"}, headers=MANAGER)
    assert cash.status_code == 201
    recognition = await client.post("/awards", json={
        "employee_id": employee["id"], "period": period, "kind": "recognition", "title": "Customer hero",
        "citation": "Saved the Kertas Jaya account"}, headers=MANAGER)
    assert recognition.status_code == 201
    awards = (await client.get("/awards", params={"employee_id": employee["id"]}, headers=ANALYST)).json()["items"]
    assert [a["kind"] for a in awards] == ["recognition", "cash", "gift"]
    wall = (await client.get("/recognitions", params={"period": period}, headers=SUPPORT)).json()["items"]
    assert [w["id"] for w in wall] == [recognition.json()["id"]]
    granted = await event_log.wait_for(lambda r: r.type == "incentives.award.granted" and r.key == employee["id"],
                                       count=3)
    assert sorted(e.payload["kind"] for e in granted) == ["cash", "gift", "recognition"]
    assert all(e.payload["source"] == "manual" for e in granted)

    for bad in ({"kind": "cash"}, {"kind": "cash", "amount": "0"}, {"kind": "cash", "amount": 100},
                {"kind": "gift"}, {"kind": "recognition", "title": "x"}, {"kind": "cash", "amount": "1", "title": "x"},
                {"kind": "bonus", "amount": "1"}, {"kind": "cash", "amount": "1", "period": "2026-00"}):
        body = {"employee_id": employee["id"], "period": period, **bad}
        assert_problem(await client.post("/awards", json=body, headers=MANAGER), 422)
    unknown = {"employee_id": "nobody-9", "period": period, "kind": "cash", "amount": "1"}
    assert_problem(await client.post("/awards", json=unknown, headers=MANAGER), 422, "employee-unknown")
    missing_gift = {"employee_id": employee["id"], "period": period, "kind": "gift", "gift_id": unique()}
    assert_problem(await client.post("/awards", json=missing_gift, headers=MANAGER), 422)
    await client.patch(f"/gifts/{gift['id']}", json={"active": False}, headers=MANAGER)
    assert_problem(await client.post("/awards", json={**missing_gift, "gift_id": gift["id"]}, headers=MANAGER), 422)
    assert_problem(await client.post("/awards", json=unknown, headers=ANALYST), 403)
    assert_problem(await client.get("/awards", headers=SUPPORT), 403)
    assert len((await client.get("/awards", params={"employee_id": employee["id"]},
                                 headers=ANALYST)).json()["items"]) == 3


async def test_closing_a_running_month_is_refused(client: httpx.AsyncClient) -> None:
    running = datetime.now(JAKARTA).strftime("%Y-%m")
    assert_problem(await client.post(f"/periods/{running}/close", headers=MANAGER), 409, "period-not-closable")
    assert_problem(await client.post("/periods/2026-13/close", headers=MANAGER), 422)
    assert_problem(await client.post(f"/periods/{running}/close", headers=ANALYST), 403)
