"""SLA breaches on the real PostgreSQL and broker: detected with no request touching the case,
reported once across two service instances on one database, sticky through resolution, and
reported by the request itself when a clock stops late.

Each test has a database of its own with a calendar that is always open (every day 00:00-24:00)
and targets of a few seconds, so deadlines pass while the test waits for the events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.feedback.app import create_app
from services.feedback.models import SlaBreach
from services.feedback.tests.conftest import (
    ALWAYS,
    MANAGER,
    SUPPORT,
    FakeOwners,
    command,
    get_case,
    open_case,
    reply,
    resolve,
    settings_for,
)
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client
from shared.testing.events import EventLog

pytestmark = pytest.mark.integration

HOUR = 3600


def policy(first_response: int, resolution: int, *, working_time: bool = True) -> dict[str, Any]:
    """Complaints of normal priority get the given targets (seconds); everything else a day."""
    day = {"seconds": 86_400, "working_time": True}
    return {"targets": [
        {"kind": "complaint", "priority": "normal", "first_response": {"seconds": first_response,
                                                                       "working_time": working_time},
         "resolution": {"seconds": resolution, "working_time": working_time}},
        *({"kind": None, "priority": p, "first_response": day, "resolution": day}
          for p in ("low", "normal", "high", "urgent"))]}


async def configure(client: httpx.AsyncClient, first_response: int, resolution: int) -> None:
    calendar = await client.put("/calendar", json={"time_zone": "Asia/Jakarta", "week": ALWAYS}, headers=MANAGER)
    assert calendar.status_code == 200, calendar.text
    policy_response = await client.put("/sla-policies", json=policy(first_response, resolution), headers=MANAGER)
    assert policy_response.status_code == 200, policy_response.text


@pytest.fixture
async def app(database_url: str, topics: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, FakeOwners]]:
    owners = FakeOwners()
    feedback = create_app(settings_for(database_url, topics), owner_directory=owners, staff_lookup=AnyEmployee())
    async with app_client(feedback) as client:
        yield feedback, client, owners


async def test_a_breach_is_detected_and_published_with_no_request_touching_the_case(
        app: tuple[FastAPI, httpx.AsyncClient, FakeOwners], event_log: EventLog) -> None:
    _app, client, owners = app
    await configure(client, first_response=2, resolution=4)
    customer = owners.customer_()
    case = await open_case(client, customer, priority="normal", assignee_id="emp-9", employee_id="emp-3")
    assert case["sla"]["first_response"]["target_seconds"] == 2 and case["sla"]["state"] == "on_track"

    breaches = await event_log.wait_type("feedback.sla.breached", count=2, timeout=30, case_id=case["id"])
    by_target = {b.payload["target"]: b for b in breaches}
    assert set(by_target) == {"first_response", "resolution"}
    first = by_target["first_response"]
    assert first.key == customer and first.payload["customer_id"] == customer
    assert first.payload["assignee_id"] == "emp-9" and first.payload["employee_id"] == "emp-3"
    assert first.payload["target_seconds"] == 2 and first.payload["working_time"] is True
    assert first.payload["escalation_level"] == 1 and by_target["resolution"].payload["escalation_level"] == 2
    assert datetime.fromisoformat(first.payload["due_at"]) == datetime.fromisoformat(
        case["sla"]["first_response"]["due_at"])

    seen = await get_case(client, case["id"])
    assert seen["sla"]["state"] == "breached" and seen["sla"]["escalation_level"] == 2
    assert seen["sla"]["first_response"]["state"] == seen["sla"]["resolution"]["state"] == "breached"
    assert [t["details"]["target"] for t in seen["timeline"] if t["kind"] == "sla_breached"] == [
        "first_response", "resolution"]
    listed = await client.get("/cases", params={"sla_state": "breached", "customer_id": customer}, headers=SUPPORT)
    assert [c["id"] for c in listed.json()["items"]] == [case["id"]]

    # Sticky: answering and resolving does not make it good again.
    await reply(client, case["id"])
    resolved = await resolve(client, case["id"])
    assert resolved["case"]["sla"]["state"] == "breached"
    assert resolved["resolution"]["first_response_breached"] and resolved["resolution"]["resolution_breached"]
    published = await event_log.wait_type("feedback.case.resolved", case_id=case["id"])
    assert published[0].payload["resolution_breached"] and published[0].payload["first_response_breached"]
    await event_log.settle(1.0)
    assert len(event_log.of_type("feedback.sla.breached", case_id=case["id"])) == 2


async def test_two_instances_on_one_database_report_each_breach_once(database_url: str, topics: str,
                                                                     event_log: EventLog) -> None:
    owners = FakeOwners()
    first_app = create_app(settings_for(database_url, topics, breach_check_max_seconds=0.5), owner_directory=owners,
                           staff_lookup=AnyEmployee())
    second_app = create_app(settings_for(database_url, topics, breach_check_max_seconds=0.5), owner_directory=owners,
                            staff_lookup=AnyEmployee())
    async with app_client(first_app) as one, app_client(second_app) as two:
        await configure(one, first_response=1, resolution=2)
        case_ids = []
        for n in range(8):
            client = one if n % 2 else two
            case_ids.append((await open_case(client, owners.customer_(), priority="normal"))["id"])
        wanted = set(case_ids)
        await event_log.wait_for(lambda r: r.type == "feedback.sla.breached" and r.payload["case_id"] in wanted,
                                 count=16, timeout=40)
        await event_log.settle(3.0)  # both detectors keep running meanwhile
        reported = [(r.payload["case_id"], r.payload["target"]) for r in event_log.records
                    if r.type == "feedback.sla.breached" and r.payload["case_id"] in wanted]
        assert sorted(reported) == sorted({(c, t) for c in case_ids for t in ("first_response", "resolution")})
        async with first_app.state.runtime.db.transaction() as session:
            rows = await session.execute(select(SlaBreach.detected_by, func.count()).group_by(SlaBreach.detected_by))
            by_instance = dict(rows.all())
        assert sum(by_instance.values()) == 16
        for case_id in case_ids:
            assert (await get_case(one, case_id))["sla"]["escalation_level"] == 2


async def test_a_clock_stopped_late_reports_its_breach_in_the_request(database_url: str, topics: str,
                                                                     event_log: EventLog) -> None:
    owners = FakeOwners()
    quiet = create_app(settings_for(database_url, topics, breach_detector_enabled=False), owner_directory=owners,
                       staff_lookup=AnyEmployee())
    async with app_client(quiet) as client:
        await configure(client, first_response=1, resolution=HOUR)
        case = await open_case(client, owners.customer_(), priority="normal")
        await asyncio.sleep(1.5)
        listed = await client.get("/cases", params={"sla_state": "breached"}, headers=SUPPORT)
        assert case["id"] in [c["id"] for c in listed.json()["items"]]  # overdue counts before anyone marks it
        answered = await reply(client, case["id"])
        assert answered["case"]["sla"]["first_response"]["state"] == "breached"
        assert answered["case"]["sla"]["escalation_level"] == 1
        await reply(client, case["id"])
        [breach] = await event_log.wait_type("feedback.sla.breached", case_id=case["id"])
        assert breach.payload["target"] == "first_response" and breach.payload["escalation_level"] == 1
        await event_log.settle(1.0)
        assert len(event_log.of_type("feedback.sla.breached", case_id=case["id"])) == 1


async def test_waiting_holds_the_resolution_clock_and_the_wait_survives_a_resolution_from_waiting(
        app: tuple[FastAPI, httpx.AsyncClient, FakeOwners], event_log: EventLog) -> None:
    _app, client, owners = app
    await configure(client, first_response=HOUR, resolution=3)
    case = await open_case(client, owners.customer_(), priority="normal", assignee_id="emp-1")
    await command(client, case["id"], "start")
    waiting = await command(client, case["id"], "wait")
    assert waiting["sla"]["resolution"]["due_at"] is None and waiting["sla"]["resolution"]["run"] == "paused"
    await asyncio.sleep(3.5)  # longer than the resolution target: paused, so no breach
    resolved = await resolve(client, case["id"])
    assert resolved["resolution"]["resolution_breached"] is False
    assert resolved["resolution"]["waited_seconds"] >= 3  # the hold time is kept, not dropped
    assert resolved["case"]["sla"]["resolution"]["state"] == "met"
    await event_log.settle(1.0)
    assert event_log.of_type("feedback.sla.breached", case_id=case["id"]) == []
