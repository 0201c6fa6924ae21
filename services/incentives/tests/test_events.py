"""Orders' and feedback's real event shapes, published on their real topics, feed the figures.

Redelivered envelopes (the same event id) and replays (the same facts under a new event id)
change nothing; a cancellation that arrives before its paid event converges to the same figures.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from services.incentives.tests.conftest import (
    ANALYST,
    MANAGER,
    SUPPORT,
    Bus,
    cancelled_event,
    case_facts,
    case_received,
    contributions,
    eventually,
    fresh_year,
    hire,
    order_line,
    paid_event,
    product_event,
    returned_event,
    row_of,
    unique,
)
from shared.db.engine import Database
from shared.events.contracts import feedback as feedback_events

pytestmark = pytest.mark.integration

JAKARTA = ZoneInfo("Asia/Jakarta")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA)


async def lines_of(client: httpx.AsyncClient, period: str, employee_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/periods/{period}/lines", params={"employee_id": employee_id, "limit": 200},
                                headers=ANALYST)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_paid_returned_and_cancelled_orders_feed_weighted_contributions(
        client: httpx.AsyncClient, bus: Bus) -> None:
    year = fresh_year()
    march, april = f"{year}-03", f"{year}-04"
    ayu, budi = (await hire(client, name="Ayu"))["id"], (await hire(client, name="Budi"))["id"]
    printer, paper = unique("printer-"), unique("paper-")
    for product_id, category in ((printer, "printers"), (paper, "paper")):
        await bus.publish(product_event(product_id, category), key=product_id, aggregate_id=product_id)

    async def products_known() -> None:
        for product_id in (printer, paper):
            assert (await client.get(f"/products/{product_id}/weights", headers=SUPPORT)).status_code == 200

    await eventually(products_known)
    for effective_from, weight in ((f"{march}-01", "1.5"), (f"{march}-16", "2.0")):
        response = await client.put(f"/products/{printer}/weight", headers=MANAGER,
                                    json={"weight": weight, "locomotive": True, "effective_from": effective_from})
        assert response.status_code == 200, response.text

    customer = str(uuid.uuid4())
    o1, o2, o3 = unique("o1-"), unique("o2-"), unique("o3-")
    o1_lines = [order_line(1, paper, "1000000.00", category="paper"), order_line(2, printer, "2000000.00", quantity=2)]
    o1_paid = await bus.publish(paid_event(o1, customer, ayu, o1_lines, at(f"{march}-05T10:00")), key=customer,
                                aggregate_id=o1, customer_id=customer)
    await bus.publish(paid_event(o2, customer, ayu, [order_line(1, printer, "2000000.00")], at(f"{march}-20T11:00")),
                      key=customer, aggregate_id=o2, customer_id=customer)
    # Budi's order: the cancellation arrives BEFORE the payment (a replayed dead letter, say).
    o3_lines = [order_line(1, printer, "1000000.00")]
    await bus.publish(cancelled_event(o3, customer, budi, o3_lines, at(f"{march}-14T08:00"),
                                      placed_at=at(f"{march}-11T08:00"), reversed_net="1000000.00"),
                      key=customer, aggregate_id=o3, customer_id=customer)
    await bus.publish(paid_event(o3, customer, budi, o3_lines, at(f"{march}-12T15:00")), key=customer,
                      aggregate_id=o3, customer_id=customer)
    # Half of O1's printers come back in April: a negative line in April, at O1's weight (1.5).
    await bus.publish(returned_event(o1, customer, ayu, unique("r-"), [(2, printer, "1000000.00")],
                                     returned_at=at(f"{april}-03T10:00"), order_paid_at=at(f"{march}-05T10:00")),
                      key=customer, aggregate_id=o1, customer_id=customer)

    async def figures() -> tuple[dict[str, Any], dict[str, Any]]:
        report = await contributions(client, march)
        a, b = row_of(report, ayu), row_of(report, budi)
        assert a is not None and b is not None and a["lines"] == 3 and b["lines"] == 2
        april_row = row_of(await contributions(client, april), ayu)
        assert april_row is not None and april_row["lines"] == 1
        return a, april_row

    a, a_april = await eventually(figures)
    # 1,000,000 x 1 + 2,000,000 x 1.5 + 2,000,000 x 2.0 (after the change on the 16th)
    assert (a["net_sales"], a["weighted_points"], a["locomotive_sales"]) == ("5000000.00", "8000000.00",
                                                                             "4000000.00")
    assert {c["category"]: c["weighted_points"] for c in a["categories"]} == {"paper": "1000000.00",
                                                                              "printers": "7000000.00"}
    b = row_of(await contributions(client, march), budi)
    assert b is not None and (b["net_sales"], b["weighted_points"], b["locomotive_sales"]) == ("0.00", "0.00", "0.00")
    assert sorted((x["kind"], x["points"]) for x in await lines_of(client, march, budi)) == [
        ("cancellation", "-1500000.00"), ("sale", "1500000.00")]
    assert (a_april["net_sales"], a_april["weighted_points"]) == ("-1000000.00", "-1500000.00")
    (clawback,) = await lines_of(client, april, ayu)
    assert (clawback["kind"], clawback["weight"], clawback["natural_period"]) == ("return", "1.5000", april)

    # Redelivery (the same envelope) and a replay (the same facts, a new event id) change nothing.
    await bus.send(o1_paid, key=customer)
    await bus.publish(paid_event(o1, customer, ayu, o1_lines, at(f"{march}-05T10:00")), key=customer,
                      aggregate_id=o1, customer_id=customer)
    await bus.publish(paid_event(o2, customer, ayu, [order_line(1, printer, "2000000.00")], at(f"{march}-20T11:00")),
                      key=customer, aggregate_id=o2, customer_id=customer)
    marker = unique("o-marker-")
    await bus.publish(paid_event(marker, customer, budi, [order_line(1, paper, "10.00", category="paper")],
                                 at(f"{march}-21T09:00")), key=customer, aggregate_id=marker, customer_id=customer)

    async def marker_counted() -> None:
        row = row_of(await contributions(client, march), budi)
        assert row is not None and row["lines"] == 3

    await eventually(marker_counted)  # events after the duplicates on the same partition are through
    again = row_of(await contributions(client, march), ayu)
    assert again is not None and (again["weighted_points"], again["lines"]) == ("8000000.00", 3)


async def test_sales_in_another_currency_do_not_count(client: httpx.AsyncClient, bus: Bus) -> None:
    period = f"{fresh_year()}-02"
    seller = (await hire(client))["id"]
    customer = str(uuid.uuid4())
    foreign, local = unique("usd-"), unique("idr-")
    await bus.publish(paid_event(foreign, customer, seller, [order_line(1, "p", "100.00")], at(f"{period}-02T10:00"),
                                 currency="USD"), key=customer, aggregate_id=foreign, customer_id=customer)
    await bus.publish(paid_event(local, customer, seller, [order_line(1, "p", "100.00")], at(f"{period}-02T11:00")),
                      key=customer, aggregate_id=local, customer_id=customer)

    async def counted() -> dict[str, Any]:
        row = row_of(await contributions(client, period), seller)
        assert row is not None and row["lines"] == 1
        return row

    assert (await eventually(counted))["net_sales"] == "100.00"


async def test_feedback_events_feed_the_quality_measures(client: httpx.AsyncClient, bus: Bus) -> None:
    period = f"{fresh_year()}-06"
    sales, agent = (await hire(client))["id"], (await hire(client, role="support"))["id"]
    customer = str(uuid.uuid4())
    when = at(f"{period}-10T09:00")
    complaint, unfounded, suggestion = unique("case-"), unique("case-"), unique("case-")
    received = await bus.publish(case_received(complaint, customer, sales, when, assignee_id=agent), key=customer,
                                 aggregate_id=complaint, customer_id=customer)
    await bus.publish(case_received(unfounded, customer, sales, when, kind="claim"), key=customer,
                      aggregate_id=unfounded, customer_id=customer)
    await bus.publish(case_received(suggestion, customer, sales, when, kind="suggestion"), key=customer,
                      aggregate_id=suggestion, customer_id=customer)
    # The claim is rejected as unfounded: it stops counting against the employee.
    await bus.publish(feedback_events.CaseResolvedV1(
        **case_facts(unfounded, customer, sales, kind="claim", status="resolved"), resolution_no=1,
        outcome="rejected", compensation="none", compensation_amount="0", currency="IDR",
        first_response_working_seconds=60, resolution_working_seconds=600, first_response_breached=False,
        resolution_breached=False, cited_standard_id=None, cited_standard_version=None, resolved_by=agent,
        resolved_at=at(f"{period}-11T09:00")), key=customer, aggregate_id=unfounded, customer_id=customer)
    breach = feedback_events.SlaBreachedV1(
        case_id=complaint, case_number="C-1", kind="complaint", customer_id=customer, priority="high",
        category_id=None, assignee_id=agent, employee_id=sales, target="first_response", target_seconds=3600,
        working_time=True, due_at=at(f"{period}-10T10:00"), breached_at=at(f"{period}-10T10:00"),
        escalation_level=1)
    await bus.publish(breach, key=customer, aggregate_id=complaint, customer_id=customer)
    await bus.publish(breach, key=customer, aggregate_id=complaint, customer_id=customer)  # a replay
    for resolution_no, rating in ((1, 5), (2, 4)):
        await bus.publish(feedback_events.CaseRatedV1(
            **case_facts(complaint, customer, sales, assignee_id=agent, status="resolved"),
            resolution_no=resolution_no, rating=rating, rated_at=at(f"{period}-12T09:0{resolution_no}")),
            key=customer, aggregate_id=complaint, customer_id=customer)
    await bus.send(received, key=customer)  # redelivered

    async def measured() -> tuple[dict[str, Any], dict[str, Any]]:
        report = await contributions(client, period)
        s, a = row_of(report, sales), row_of(report, agent)
        assert s is not None and a is not None and s["quality"]["csat_ratings"] == 2
        assert s["quality"]["complaints"] == 1
        return s["quality"], a["quality"]

    sales_quality, agent_quality = await eventually(measured)
    assert sales_quality == {"complaints": 1, "sla_breaches": 1, "csat_average": "4.50", "csat_ratings": 2}
    # The agent handled the case: the breach and the ratings are theirs too, the complaint is not.
    assert agent_quality == {"complaints": 0, "sla_breaches": 1, "csat_average": "4.50", "csat_ratings": 2}

    # Reopening the rejected claim counts it again.
    await bus.publish(feedback_events.CaseReopenedV1(
        **case_facts(unfounded, customer, sales, kind="claim", status="in_progress"), reopened_resolution_no=1,
        by=agent, reopened_at=at(f"{period}-13T09:00")), key=customer, aggregate_id=unfounded, customer_id=customer)

    async def reopened() -> None:
        row = row_of(await contributions(client, period), sales)
        assert row is not None and row["quality"]["complaints"] == 2

    await eventually(reopened)
    board = (await client.get("/leaderboard", params={"period": period}, headers=SUPPORT)).json()
    assert {e["employee_id"] for e in board["entries"]} >= {sales, agent}
    assert board["order"][1] == "complaints: lower is better"


async def test_no_customer_data_is_kept(client: httpx.AsyncClient, bus: Bus, module_database_url: str) -> None:
    """Order and case events carry a customer id; nothing here stores it, so erasures and merges
    of customers have nothing to reach in this database."""
    period = f"{fresh_year()}-01"
    seller = (await hire(client))["id"]
    customer = f"cust-{uuid.uuid4()}"
    order_id, case_id = unique("o-"), unique("case-")
    await bus.publish(paid_event(order_id, customer, seller, [order_line(1, "p", "5.00")], at(f"{period}-03T10:00")),
                      key=customer, aggregate_id=order_id, customer_id=customer)
    await bus.publish(case_received(case_id, customer, seller, at(f"{period}-03T11:00")), key=customer,
                      aggregate_id=case_id, customer_id=customer)

    async def both_in() -> None:
        row = row_of(await contributions(client, period), seller)
        assert row is not None and row["lines"] == 1 and row["quality"]["complaints"] == 1

    await eventually(both_in)
    db = Database(module_database_url)
    try:
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: {t: [col["name"] for col in sa.inspect(c).get_columns(t)
                                                        if isinstance(col["type"], sa.String | sa.Text | sa.JSON)]
                                                    for t in sa.inspect(c).get_table_names()})
            hits = []
            for table, columns in tables.items():
                for column in columns:
                    found = await conn.scalar(sa.text(
                        f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :needle'),
                        {"needle": f"%{customer}%"})
                    if found:
                        hits.append(f"{table}.{column}")
    finally:
        await db.dispose()
    assert hits == []
