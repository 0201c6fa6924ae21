"""Closing a month with two app instances on one database: the hand-computed bonuses, the best
employee's recognition, events published once, a frozen period, late events as adjustments.

The figures are those of ``test_rules_example`` with neutral weights (a closed month lies in the
past, and weights are never set retroactively): each employee's points equal the net sales given.
A 8,000,000 pts / target 6,000,000, 1 complaint, CSAT 5, 5, 4 -> 80,000.00 (90,898.00 capped)
B 4,000,000 pts / target 4,000,000, 1 SLA breach, CSAT 4    -> 38,000.00
C 2,400,000 pts / target 3,000,000 (80 % < 90 %)            -> no bonus, cannot win
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.incentives.app import create_app
from services.incentives.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    Bus,
    assert_problem,
    case_facts,
    case_received,
    contributions,
    eventually,
    hire,
    order_line,
    paid_event,
    row_of,
    settings_for,
    unique,
)
from services.incentives.tests.test_api import POLICY
from shared.events.contracts import feedback as feedback_events
from shared.testing.apps import app_client
from shared.testing.events import EventLog

pytestmark = pytest.mark.integration

JAKARTA = ZoneInfo("Asia/Jakarta")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA)


async def test_two_instances_close_a_month_once(database_url: str, topics: str, bus: Bus,
                                                event_log: EventLog) -> None:
    settings = settings_for(database_url, topics)  # one service name: two replicas of one service
    first, second = create_app(settings), create_app(settings.model_copy())
    year = random.randint(1990, 2020)
    period, following = f"{year}-03", f"{year}-04"
    async with app_client(first) as one, app_client(second) as two:
        a = (await hire(one, name="Ayu", hired_on="1984-01-10"))["id"]
        b = (await hire(two, name="Budi", hired_on="1983-05-01"))["id"]
        c = (await hire(one, name="Citra", hired_on="1985-02-01"))["id"]
        plan = {"company_target_points": "12000000", "employees": [
            {"employee_id": a, "target_points": "6000000"}, {"employee_id": b, "target_points": "4000000"},
            {"employee_id": c, "target_points": "3000000"}]}
        assert (await one.put(f"/plans/{period}", json=plan, headers=MANAGER)).status_code == 200
        policy = await two.put("/bonus-policy", json={**POLICY, "effective_from": f"{year}-01"}, headers=ADMIN)
        assert policy.status_code == 200, policy.text

        customer = str(uuid.uuid4())
        for employee, net, day in ((a, "8000000.00", "05"), (b, "4000000.00", "10"), (c, "2400000.00", "12")):
            order_id = unique("o-")
            await bus.publish(paid_event(order_id, customer, employee, [order_line(1, "p-1", net)],
                                         at(f"{period}-{day}T10:00")), key=customer, aggregate_id=order_id,
                              customer_id=customer)
        complaint = unique("case-")
        await bus.publish(case_received(complaint, customer, a, at(f"{period}-06T10:00")), key=customer,
                          aggregate_id=complaint, customer_id=customer)
        for number, (employee, rating) in enumerate(((a, 5), (a, 5), (a, 4), (b, 4)), start=1):
            await bus.publish(feedback_events.CaseRatedV1(
                **case_facts(f"{complaint}-{number}", customer, employee, kind="comment", status="resolved"),
                resolution_no=1, rating=rating, rated_at=at(f"{period}-20T10:0{number}")),
                key=customer, aggregate_id=complaint, customer_id=customer)
        await bus.publish(feedback_events.SlaBreachedV1(
            case_id=unique("case-"), case_number="C-2", kind="claim", customer_id=customer, priority="high",
            category_id=None, assignee_id=None, employee_id=b, target="resolution", target_seconds=3600,
            working_time=True, due_at=at(f"{period}-15T10:00"), breached_at=at(f"{period}-15T10:00"),
            escalation_level=1), key=customer, aggregate_id=complaint, customer_id=customer)

        async def all_in() -> dict[str, Any]:
            report = await contributions(two, period)
            rows = [row_of(report, e) for e in (a, b, c)]
            assert all(r is not None and r["lines"] == 1 for r in rows)
            assert rows[0] is not None and rows[0]["quality"]["csat_ratings"] == 3
            assert rows[0]["quality"]["complaints"] == 1
            assert rows[1] is not None and rows[1]["quality"]["sla_breaches"] == 1
            return report

        projected = await eventually(all_in)
        assert row_of(projected, a)["bonus"]["amount"] == "80000.00"  # type: ignore[index]

        closes = await asyncio.gather(one.post(f"/periods/{period}/close", headers=MANAGER),
                                      two.post(f"/periods/{period}/close", headers=MANAGER))
        statuses = sorted(r.status_code for r in closes)
        assert statuses == [200, 409], [r.text for r in closes]
        closed = next(r for r in closes if r.status_code == 200).json()
        assert closed["best_employee_id"] == a
        awards = {(x["employee_id"], x["kind"]): x for x in closed["awards"]}
        assert set(awards) == {(a, "cash"), (b, "cash"), (a, "recognition")}
        assert (awards[(a, "cash")]["amount"], awards[(b, "cash")]["amount"]) == ("80000.00", "38000.00")
        recognition = awards[(a, "recognition")]
        assert recognition["title"] == "Best employee of the month by sales results"
        assert recognition["title_ms"] == "Pekerja terbaik bulan ini berdasarkan hasil penjualan"

        report = await contributions(one, period)
        assert (report["status"], report["company_points"], report["company_fulfilment_percent"]) == (
            "closed", "14400000.00", "120.00")
        ayu, budi, citra = (row_of(report, e) for e in (a, b, c))
        assert ayu is not None and budi is not None and citra is not None
        assert (ayu["rank"], budi["rank"], citra["rank"]) == (1, 2, 3)
        assert ayu["bonus"] == {"eligible": True, "reason": None, "accelerated_points": "9400000.00",
                                "gross": "94000.00", "quality_multiplier": "0.967", "uncapped": "90898.00",
                                "capped": True, "amount": "80000.00"}
        assert (budi["bonus"]["quality_multiplier"], budi["bonus"]["amount"]) == ("0.95", "38000.00")
        assert (citra["bonus"]["eligible"], citra["bonus"]["amount"], citra["fulfilment_percent"]) == (
            False, "0", "80.00")
        assert (ayu["share_of_company_plan_percent"], ayu["fulfilment_percent"]) == ("66.67", "133.33")

        # Published once, by whichever instance's relay got there.
        closed_events = await event_log.wait_for(
            lambda r: r.type == "incentives.period.closed" and r.payload["period"] == period)
        granted = await event_log.wait_for(
            lambda r: r.type == "incentives.award.granted" and r.payload["period"] == period
            and r.payload["employee_id"] in {a, b, c}, count=3)
        await event_log.settle(2.0)
        assert len(event_log.of_type("incentives.period.closed", period=period)) == 1
        assert len([r for r in event_log.of_type("incentives.award.granted", period=period)
                    if r.payload["employee_id"] in {a, b, c}]) == 3
        assert closed_events[0].key == period
        assert {(g.payload["kind"], g.payload["source"]) for g in granted} == {("cash", "period_close"),
                                                                             ("recognition", "period_close")}
        results = {r["employee_id"]: r for r in closed_events[0].payload["employees"]}
        assert (results[a]["bonus"], results[a]["rank"], results[b]["bonus"]) == ("80000.00", 1, "38000.00")

        # Frozen: every write to the closed month is a 409; closing again too.
        assert_problem(await one.post(f"/periods/{period}/close", headers=MANAGER), 409)
        assert_problem(await two.put(f"/plans/{period}", json=plan, headers=MANAGER), 409, "period-closed")
        assert_problem(await one.post("/awards", headers=MANAGER, json={
            "employee_id": a, "period": period, "kind": "cash", "amount": "1"}), 409, "period-closed")
        assert_problem(await one.put("/bonus-policy", json={**POLICY, "effective_from": f"{year}-02"},
                                     headers=ADMIN), 409, "period-closed")

        # A late paid event of the closed month counts in the next open month, as an adjustment.
        late = unique("o-late-")
        await bus.publish(paid_event(late, customer, c, [order_line(1, "p-1", "400000.00")],
                                     at(f"{period}-30T14:00")), key=customer, aggregate_id=late, customer_id=customer)

        async def adjusted() -> dict[str, Any]:
            row = row_of(await contributions(one, following), c)
            assert row is not None and row["lines"] == 1
            return row

        citra_next = await eventually(adjusted)
        assert (citra_next["weighted_points"], citra_next["adjustment_points"]) == ("400000.00", "400000.00")
        (line,) = (await one.get(f"/periods/{following}/lines", params={"employee_id": c},
                                 headers=ANALYST)).json()["items"]
        assert (line["adjustment"], line["natural_period"], line["period"]) == (True, period, following)
        assert await contributions(two, period) == report  # the closed month did not move

        board = (await two.get("/leaderboard", params={"period": period}, headers=ANALYST)).json()
        assert [(e["employee_id"], e["eligible"]) for e in board["entries"]] == [(a, True), (b, True), (c, False)]
        wall = (await one.get("/recognitions", params={"period": period}, headers=ANALYST)).json()["items"]
        assert [w["employee_id"] for w in wall] == [a]


async def test_a_month_without_plan_or_policy_closes_with_no_bonus_and_no_winner(
        client: httpx.AsyncClient, bus: Bus) -> None:
    period = f"{random.randint(1900, 1949)}-0{random.randint(1, 9)}"
    seller = (await hire(client))["id"]
    customer = str(uuid.uuid4())
    order_id = unique("o-")
    await bus.publish(paid_event(order_id, customer, seller, [order_line(1, "p", "10.00")], at(f"{period}-02T10:00")),
                      key=customer, aggregate_id=order_id, customer_id=customer)

    async def in_() -> None:
        row = row_of(await contributions(client, period), seller)
        assert row is not None and row["lines"] == 1

    await eventually(in_)
    closed = await client.post(f"/periods/{period}/close", headers=MANAGER)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["best_employee_id"], closed.json()["awards"]) == (None, [])
