"""One customer's story through the five running services, over HTTP (through the gateway) and Kafka only.

Last month (recorded after the fact, as an import would): the customer's first contact with consent,
a permanent manager, a big locomotive order that lifts them to the silver tier and a return that
takes them back down, a complaint answered late (an SLA breach) and resolved with a refund, a rating;
then the month's plan, bonus policy and close, with the manager's bonus and the recognition. This
month: a locomotive sale and its follow-up consultation on the manager's agenda. Each service learns
what it needs from the others' events; every figure is checked where it lands (loyalty in orders,
points, quality and bonus in incentives, the partnership's and the segment's profitability in
analytics). Then a duplicate is merged into the customer (every service re-keys) and the customer is
erased: the shared erasure check finds none of the personal data in any of the five databases, while
the figures stay.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.testing.erasure import PersonalData, assert_erased
from tests.e2e.conftest import ADMIN, RunningSystem, eventually

pytestmark = pytest.mark.integration

JAKARTA = ZoneInfo("Asia/Jakarta")


async def holds(check: Callable[[], Awaitable[Any]], *, timeout: float = 90.0) -> Any:
    """Wait until ``check`` (raising AssertionError until it holds) passes; its value is returned."""
    last: list[str] = []

    async def attempt() -> Any:
        try:
            return (await check()) or True
        except AssertionError as exc:
            last[:] = [str(exc)]
            return False

    try:
        return await eventually(attempt, timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last failure: {last[0] if last else '-'}") from None


def ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), f"{response.request.url}: {response.text}"
    return response.json()


async def _drained(client: httpx.AsyncClient, system: RunningSystem) -> bool:
    for name in system.services:
        checks = (await client.get(f"/{name}/readyz")).json()["checks"]
        if (checks.get("outbox") or {}).get("backlog") not in (0, None):
            return False
        for consumer in checks.get("consumers") or []:
            if consumer.get("lag") not in (0, None):
                return False
    return True


def person(tag: str, first: str) -> dict[str, Any]:
    number = int(uuid.uuid4().hex[:8], 16) % 10**8
    return {"kind": "person", "name": f"{first} Wulandari {tag}", "emails": [f"{first.lower()}.{tag}@example.org"],
            "phones": [f"0813{number:08d}"], "segment": "printing_houses",
            "address": {"line1": f"Jl. Cempaka {tag} No. {number % 90 + 10}", "city": "Surabaya", "country": "ID"},
            "notes": f"prefers calls, ask for {first}"}


def last_month() -> tuple[str, date]:
    """Last month in the company's calendar (Asia/Jakarta): its name and its first day."""
    first_of_this = datetime.now(JAKARTA).date().replace(day=1)
    first = (first_of_this - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}", first


def at(day: date, hour_utc: int = 2) -> str:
    """An instant of ``day`` (02:00 UTC is 09:00 in Jakarta, inside working hours)."""
    return datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC).isoformat()


def weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def test_a_customer_story_across_the_five_services(gateway: httpx.AsyncClient,
                                                         running_system: RunningSystem) -> None:
    tag = uuid.uuid4().hex[:8]
    period, first = last_month()
    this_period = f"{datetime.now(JAKARTA):%Y-%m}"

    # ----- incentives: the staff directory and a locomotive product ----------------------------------
    manager = ok(await gateway.post("/incentives/employees", headers=ADMIN, json={
        "name": f"Agus Prasetyo {tag}", "role": "account_manager", "hired_on": "2024-02-01",
        "email": f"agus.{tag}@kertas.example"}))["id"]
    support = ok(await gateway.post("/incentives/employees", headers=ADMIN, json={
        "name": f"Sari Lestari {tag}", "role": "support", "hired_on": "2024-03-01"}))["id"]
    toner = ok(await gateway.post("/orders/products", headers=ADMIN, json={
        "sku": f"TNR-{tag}", "name": "Toner laser hitam 12A", "category": "printing_consumables",
        "unit_price": "450000.00", "unit_cost": "300000.00"}))["id"]
    paper = ok(await gateway.post("/orders/products", headers=ADMIN, json={
        "sku": f"HVS-{tag}", "name": "Kertas HVS A4 70gsm", "category": "paper",
        "unit_price": "48000.00", "unit_cost": "39000.00"}))["id"]

    async def known_to_incentives() -> None:
        assert (await gateway.get(f"/incentives/products/{toner}/weights", headers=ADMIN)).status_code == 200

    await holds(known_to_incentives)
    # Nothing of the toner has been sold yet, so its weight may be in force from last month on.
    ok(await gateway.put(f"/incentives/products/{toner}/weight", headers=ADMIN,
                         json={"weight": "2.5", "locomotive": True, "effective_from": str(first)}))
    # The loyalty program of this story: silver (2 %) from 10,000,000 spent, re-evaluated on returns.
    ok(await gateway.put("/orders/loyalty/program", headers=ADMIN, json={
        "tiers": [{"name": "base", "threshold": "0", "discount_percent": "0"},
                  {"name": "silver", "threshold": "10000000", "discount_percent": "2"}],
        "qualifying_window": "lifetime", "downgrade": "reevaluate"}))

    # ----- customers: first contact with consent, the permanent manager, a duplicate -----------------
    profile, duplicate_profile = person(tag, "Rina"), person(tag, "Rini")
    registered = ok(await gateway.post("/customers/customers", headers=ADMIN,
                                       json={**profile, "registered_at": at(first)}), 201)
    duplicate_registered = ok(await gateway.post("/customers/customers", headers=ADMIN, json=duplicate_profile), 201)
    customer, duplicate = registered["id"], duplicate_registered["id"]
    consents = ok(await gateway.put(f"/customers/customers/{customer}/consents", headers=ADMIN, json={
        "consents": [{"channel": "email", "granted": True, "source": "signed form"},
                     {"channel": "sms", "granted": False, "source": "signed form"}],
        "preferred_channel": "email"}))
    assert consents["preferred_channel"] == "email"
    ok(await gateway.put(f"/customers/customers/{customer}/manager", headers=ADMIN, json={"employee_id": manager}))
    # An employee the directory does not know is refused where an employee id is given.
    unknown = await gateway.put(f"/customers/customers/{customer}/manager", headers=ADMIN,
                                json={"employee_id": f"nobody-{tag}"})
    assert unknown.status_code == 422, unknown.text

    # ----- orders, last month: up to silver with a big toner order, back to base with a return -------
    async def loyalty() -> dict[str, Any]:
        return ok(await gateway.get(f"/orders/loyalty/customers/{customer}", headers=ADMIN))

    big = ok(await gateway.post("/orders/orders", headers=ADMIN, json={
        "customer_id": customer, "channel": "field", "sales_employee_id": manager,
        "placed_at": at(first + timedelta(10)), "lines": [{"product_id": toner, "quantity": 25}]}), 201)
    assert (big["net"], big["loyalty_tier"]) == ("11250000.00", "base")
    ok(await gateway.post(f"/orders/orders/{big['id']}/pay", headers=ADMIN,
                          json={"method": "bank_transfer", "paid_at": at(first + timedelta(11))}))
    assert (await loyalty())["tier"]["name"] == "silver"
    ok(await gateway.post(f"/orders/orders/{big['id']}/returns", headers=ADMIN, json={
        "lines": [{"product_id": toner, "quantity": 10}], "returned_at": at(first + timedelta(19))}), 201)
    standing = await loyalty()
    assert (standing["tier"]["name"], standing["lifetime_spend"]) == ("base", "6750000.00")

    # ----- feedback, last month: a complaint answered late, refunded, rated ---------------------------
    received = weekday_on_or_after(first + timedelta(12))
    case = ok(await gateway.post("/feedback/cases", headers={**ADMIN, "Idempotency-Key": f"story-{tag}"}, json={
        "kind": "complaint", "customer_id": customer, "order_id": big["id"], "channel": "phone",
        "subject": "Toner arrived leaking", "body": f"{profile['name']} called from {profile['phones'][0]}",
        "employee_id": manager, "assignee_id": support, "received_at": at(received)}), 201)
    due = datetime.fromisoformat(case["sla"]["first_response"]["due_at"])
    assert f"{due.astimezone(JAKARTA):%Y-%m}" == period, case["sla"]
    replied = ok(await gateway.post(f"/feedback/cases/{case['id']}/responses", headers=ADMIN, json={
        "kind": "reply", "channel": "phone", "body": "We are sending a replacement and refunding one cartridge.",
        "occurred_at": at(first + timedelta(23))}))
    assert replied["case"]["sla"]["first_response"]["breached"] is True, replied["case"]["sla"]
    ok(await gateway.post(f"/feedback/cases/{case['id']}/resolve", headers=ADMIN, json={
        "outcome": "upheld", "text": "Refund of one cartridge", "compensation": "refund",
        "compensation_amount": "225000.00", "occurred_at": at(first + timedelta(24))}))
    ok(await gateway.post(f"/feedback/cases/{case['id']}/rating", headers=ADMIN,
                          json={"rating": 2, "occurred_at": at(first + timedelta(25))}))

    # ----- incentives: last month's points and quality, the plan, the policy, the close ---------------
    points = Decimal("11250000.00") * Decimal("2.5") - Decimal("4500000.00") * Decimal("2.5")  # sale, clawback

    async def counted() -> dict[str, Any]:
        report = ok(await gateway.get(f"/incentives/periods/{period}/contributions", headers=ADMIN))
        row = next(r for r in report["employees"] if r["employee_id"] == manager)
        assert Decimal(row["weighted_points"]) == points, row
        # Both clocks ran out: the first reply came ten days late, the resolution a day after it.
        assert (row["quality"]["complaints"], row["quality"]["sla_breaches"], row["quality"]["csat_ratings"]) == (
            1, 2, 1), row
        return row

    await holds(counted)
    ok(await gateway.put(f"/incentives/plans/{period}", headers=ADMIN, json={
        "company_target_points": "10000000", "employees": [{"employee_id": manager, "target_points": "5000000"}]}))
    ok(await gateway.put("/incentives/bonus-policy", headers=ADMIN, json={
        "effective_from": period, "rate_per_point": "0.01", "min_fulfilment_percent": "80"}))
    closed = ok(await gateway.post(f"/incentives/periods/{period}/close", headers=ADMIN))
    # 16,875,000 points x 0.01 = 168,750.00; quality: 1 complaint (-5 %), 2 breaches (-4 %), CSAT 2 against
    # a neutral 4 (-10 %): x 0.81 = 136,687.50.
    bonus = next(a for a in closed["awards"] if a["employee_id"] == manager and a["kind"] == "cash")
    assert bonus["amount"] == "136687.50", closed
    assert closed["best_employee_id"] == manager
    assert any(a["kind"] == "recognition" and a["employee_id"] == manager for a in closed["awards"])
    recognised = ok(await gateway.get("/incentives/recognitions", headers=ADMIN))["items"]
    assert any(a["employee_id"] == manager and a["period"] == period for a in recognised)

    # ----- this month: a locomotive sale, its follow-up on the manager's agenda ------------------------
    async def sell(customer_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        placed = ok(await gateway.post("/orders/orders", headers=ADMIN, json={
            "customer_id": customer_id, "channel": "store", "sales_employee_id": manager, "lines": lines}), 201)
        return ok(await gateway.post(f"/orders/orders/{placed['id']}/pay", headers=ADMIN,
                                     json={"method": "bank_transfer", "reference": f"TRX-{uuid.uuid4().hex[:10]}"}))

    sale = await sell(customer, [{"product_id": toner, "quantity": 2}, {"product_id": paper, "quantity": 10}])
    assert sale["loyalty_tier"] == "base" and sale["discount_percent"] == "0.00"
    duplicate_sale = await sell(duplicate, [{"product_id": paper, "quantity": 5}])

    async def followed_up() -> dict[str, Any]:
        agenda = ok(await gateway.get("/customers/consultations", headers=ADMIN,
                                      params={"employee_id": manager, "customer_id": customer}))["items"]
        follow_ups = [c for c in agenda if c.get("order_id") == sale["id"]]
        assert len(follow_ups) == 1, agenda
        return follow_ups[0]

    follow_up = await holds(followed_up)
    assert follow_up["reason"] == "locomotive_sale" and follow_up["status"] == "scheduled"
    assert "Toner laser hitam 12A" in follow_up["topic"]
    # The paper sale to the duplicate is no locomotive sale: nothing on its agenda.
    assert ok(await gateway.get("/customers/consultations", headers=ADMIN,
                                params={"customer_id": duplicate}))["items"] == []

    async def counted_now() -> None:
        report = ok(await gateway.get(f"/incentives/periods/{this_period}/contributions", headers=ADMIN))
        row = next(r for r in report["employees"] if r["employee_id"] == manager)
        net = {line["product_id"]: Decimal(line["net"]) for line in sale["lines"]}
        assert Decimal(row["weighted_points"]) == (net[toner] * Decimal("2.5") + net[paper]
                                                   + Decimal(duplicate_sale["net"])), row

    await holds(counted_now)

    # ----- analytics: the partnership's and the segment's figures -------------------------------------
    revenue = Decimal("6750000.00") + Decimal(sale["net"])
    cost = Decimal("15") * Decimal("300000.00") + sum(
        Decimal(line["cost"]) for line in sale["lines"])

    async def profitable() -> dict[str, Any]:
        figures = ok(await gateway.get(f"/analytics/profitability/customers/{customer}", headers=ADMIN))
        assert Decimal(figures["revenue"]) == revenue, figures
        assert Decimal(figures["cost_of_goods"]) == cost, figures
        assert Decimal(figures["compensation"]) == Decimal("225000.00"), figures
        assert (figures["orders"], figures["returns"]) == (2, 1), figures
        return figures

    await holds(profitable)

    # ----- a merge: the duplicate's history follows the survivor everywhere -----------------------------
    duplicate_case = ok(await gateway.post("/feedback/cases", headers=ADMIN, json={
        "kind": "suggestion", "customer_id": duplicate, "channel": "email", "subject": "Sell A3 paper",
        "body": f"from {duplicate_profile['emails'][0]}"}), 201)
    ok(await gateway.post(f"/customers/customers/{customer}/merge", headers=ADMIN, json={"duplicate_id": duplicate}))
    merged_revenue = revenue + Decimal(duplicate_sale["net"])

    async def rekeyed() -> None:
        orders = ok(await gateway.get("/orders/orders", headers=ADMIN, params={"customer_id": customer}))["items"]
        assert {o["id"] for o in orders} == {big["id"], sale["id"], duplicate_sale["id"]}, orders
        cases = ok(await gateway.get("/feedback/cases", headers=ADMIN, params={"customer_id": customer}))["items"]
        assert {c["id"] for c in cases} == {case["id"], duplicate_case["id"]}, cases
        figures = ok(await gateway.get(f"/analytics/profitability/customers/{customer}", headers=ADMIN))
        assert Decimal(figures["revenue"]) == merged_revenue and figures["orders"] == 3, figures
        segments = ok(await gateway.get("/analytics/profitability/segments", headers=ADMIN))["items"]
        printing = next(g for g in segments if g["key"] == "printing_houses")
        assert Decimal(printing["revenue"]) == merged_revenue, printing
        assert Decimal(printing["compensation"]) == Decimal("225000.00"), printing

    await holds(rekeyed)

    # ----- erasure: no personal data left in any service, the figures stay -----------------------------
    erased = ok(await gateway.post(f"/customers/customers/{customer}/erase", headers=ADMIN))
    await eventually(lambda: _drained(gateway, running_system), timeout=90)

    async def anonymised_in_feedback() -> None:
        body = ok(await gateway.get(f"/feedback/cases/{case['id']}", headers=ADMIN))
        assert profile["name"] not in str(body), body

    await holds(anonymised_in_feedback)
    people = [PersonalData.of_customer(registered), PersonalData.of_customer(duplicate_registered)]
    since = datetime.fromisoformat(erased["erased_at"]) if erased.get("erased_at") else datetime.now(UTC)
    for url in running_system.database_urls.values():  # customers, orders, feedback, incentives, analytics
        for someone in people:
            await assert_erased(url, someone, since=since - timedelta(seconds=1))
    figures = ok(await gateway.get(f"/analytics/profitability/customers/{customer}", headers=ADMIN))
    assert Decimal(figures["revenue"]) == merged_revenue
    assert Decimal(figures["compensation"]) == Decimal("225000.00")
    assert ok(await gateway.get(f"/customers/customers/{customer}", headers=ADMIN))["status"] == "erased"
