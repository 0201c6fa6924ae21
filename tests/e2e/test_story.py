"""One customer's story through the five running services, over HTTP (through the gateway) and Kafka only.

Staff are hired in incentives; a locomotive product's weight is set there; the customer is registered
and given a permanent manager in customers; orders are placed and paid in orders; a complaint is
handled to a refund and rated in feedback. Each service learns what it needs from the others' events:
customers schedules the locomotive follow-up on the manager's agenda, incentives counts the weighted
sale and the complaint and rating against the manager, analytics shows the compensation in the
partnership's profitability. Then a duplicate is merged into the customer (every service re-keys) and
the customer is erased: the shared erasure check finds none of the personal data in any of the five
databases, while the figures stay.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
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


async def test_a_customer_story_across_the_five_services(gateway: httpx.AsyncClient,
                                                         running_system: RunningSystem) -> None:
    tag = uuid.uuid4().hex[:8]
    period = f"{datetime.now(JAKARTA):%Y-%m}"

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
    # Nothing of the toner has been sold yet, so its weight may be in force from yesterday on.
    yesterday = str((datetime.now(JAKARTA) - timedelta(days=1)).date())
    ok(await gateway.put(f"/incentives/products/{toner}/weight", headers=ADMIN,
                         json={"weight": "2.5", "locomotive": True, "effective_from": yesterday}))

    # ----- customers: the customer, a duplicate, the permanent manager ---------------------------------
    profile, duplicate_profile = person(tag, "Rina"), person(tag, "Rini")
    registered = ok(await gateway.post("/customers/customers", headers=ADMIN, json=profile), 201)
    duplicate_registered = ok(await gateway.post("/customers/customers", headers=ADMIN, json=duplicate_profile), 201)
    customer, duplicate = registered["id"], duplicate_registered["id"]
    ok(await gateway.put(f"/customers/customers/{customer}/manager", headers=ADMIN, json={"employee_id": manager}))
    # An employee the directory does not know is refused where an employee id is given.
    unknown = await gateway.put(f"/customers/customers/{customer}/manager", headers=ADMIN,
                                json={"employee_id": f"nobody-{tag}"})
    assert unknown.status_code == 422, unknown.text

    # ----- orders: a locomotive sale to the customer, a paper sale to the duplicate ----------------------
    async def sell(customer_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        placed = ok(await gateway.post("/orders/orders", headers=ADMIN, json={
            "customer_id": customer_id, "channel": "store", "sales_employee_id": manager, "lines": lines}), 201)
        return ok(await gateway.post(f"/orders/orders/{placed['id']}/pay", headers=ADMIN,
                                     json={"method": "bank_transfer", "reference": f"TRX-{uuid.uuid4().hex[:10]}"}))

    sale = await sell(customer, [{"product_id": toner, "quantity": 2}, {"product_id": paper, "quantity": 10}])
    duplicate_sale = await sell(duplicate, [{"product_id": paper, "quantity": 5}])
    net = {line["product_id"]: Decimal(line["net"]) for line in sale["lines"]}
    expected_points = net[toner] * Decimal("2.5") + net[paper] + Decimal(duplicate_sale["net"])

    # customers: one follow-up of the locomotive sale, on the manager's agenda, naming the product.
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

    # ----- feedback: a complaint about the sale, handled to a refund, rated -----------------------------
    case = ok(await gateway.post("/feedback/cases", headers={**ADMIN, "Idempotency-Key": f"story-{tag}"}, json={
        "kind": "complaint", "customer_id": customer, "order_id": sale["id"], "channel": "phone",
        "subject": "Toner arrived leaking", "body": f"{profile['name']} called from {profile['phones'][0]}",
        "employee_id": manager, "assignee_id": support}), 201)
    ok(await gateway.post(f"/feedback/cases/{case['id']}/responses", headers=ADMIN, json={
        "kind": "reply", "channel": "phone", "body": "We are sending a replacement and refunding the delivery."}))
    ok(await gateway.post(f"/feedback/cases/{case['id']}/resolve", headers=ADMIN, json={
        "outcome": "upheld", "text": "Refund of one cartridge", "compensation": "refund",
        "compensation_amount": "225000.00"}))
    ok(await gateway.post(f"/feedback/cases/{case['id']}/rating", headers=ADMIN, json={"rating": 2}))

    # incentives: the weighted sales and the complaint and rating, against the manager.
    async def counted() -> dict[str, Any]:
        report = ok(await gateway.get(f"/incentives/periods/{period}/contributions", headers=ADMIN))
        row = next(r for r in report["employees"] if r["employee_id"] == manager)
        assert Decimal(row["weighted_points"]) == expected_points, row
        assert (row["quality"]["complaints"], row["quality"]["csat_ratings"]) == (1, 1), row
        return row

    manager_row = await holds(counted)
    assert Decimal(manager_row["locomotive_sales"]) == net[toner]

    # analytics: the refund is in the partnership's profitability.
    async def profitable() -> dict[str, Any]:
        figures = ok(await gateway.get(f"/analytics/profitability/customers/{customer}", headers=ADMIN))
        assert Decimal(figures["compensation"]) == Decimal("225000.00"), figures
        assert Decimal(figures["revenue"]) == Decimal(sale["net"]), figures
        return figures

    await holds(profitable)

    # ----- a merge: the duplicate's history follows the survivor everywhere -----------------------------
    duplicate_case = ok(await gateway.post("/feedback/cases", headers=ADMIN, json={
        "kind": "suggestion", "customer_id": duplicate, "channel": "email", "subject": "Sell A3 paper",
        "body": f"from {duplicate_profile['emails'][0]}"}), 201)
    ok(await gateway.post(f"/customers/customers/{customer}/merge", headers=ADMIN, json={"duplicate_id": duplicate}))

    async def rekeyed() -> None:
        orders = ok(await gateway.get("/orders/orders", headers=ADMIN, params={"customer_id": customer}))["items"]
        assert {o["id"] for o in orders} >= {sale["id"], duplicate_sale["id"]}, orders
        cases = ok(await gateway.get("/feedback/cases", headers=ADMIN, params={"customer_id": customer}))["items"]
        assert {c["id"] for c in cases} == {case["id"], duplicate_case["id"]}, cases
        figures = ok(await gateway.get(f"/analytics/profitability/customers/{customer}", headers=ADMIN))
        assert Decimal(figures["revenue"]) == Decimal(sale["net"]) + Decimal(duplicate_sale["net"]), figures
        assert figures["orders"] == 2, figures

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
    assert Decimal(figures["revenue"]) == Decimal(sale["net"]) + Decimal(duplicate_sale["net"])
    assert Decimal(figures["compensation"]) == Decimal("225000.00")
    assert ok(await gateway.get(f"/customers/customers/{customer}", headers=ADMIN))["status"] == "erased"
