"""Categories, SLA policy versions, the calendar, and the service-quality standards, on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.feedback.app import create_app
from services.feedback.handlers import handlers
from services.feedback.tests.conftest import (
    ALWAYS,
    ANALYST,
    MANAGER,
    SUPPORT,
    FakeOwners,
    assert_problem,
    envelope,
    get_case,
    open_case,
    reply,
    resolve,
    settings_for,
    unique,
)
from services.feedback.tests.test_sla_breach import policy
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client, bearer

pytestmark = pytest.mark.integration


async def category(client: httpx.AsyncClient, name: str, parent_id: str | None = None) -> dict[str, Any]:
    response = await client.post("/categories", json={"name": name, "parent_id": parent_id}, headers=MANAGER)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_category_tree_is_managed(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    root = await category(client, unique("Delivery "))
    late = await category(client, "Late", root["id"])
    assert late["path"] == [root["id"], late["id"]]
    assert_problem(await client.post("/categories", json={"name": "LATE", "parent_id": root["id"]},
                                     headers=MANAGER), 409)
    other = await category(client, unique("Quality "))
    case = await open_case(client, owners.customer_(), category_id=late["id"])

    moved = await client.patch(f"/categories/{late['id']}", json={"parent_id": other["id"], "name": "Very late"},
                               headers=MANAGER)
    assert moved.status_code == 200 and moved.json()["path"] == [other["id"], late["id"]]
    under_other = await client.get("/cases", params={"category_id": other["id"]}, headers=SUPPORT)
    assert [c["id"] for c in under_other.json()["items"]] == [case["id"]]  # the case moved with its category
    assert (await get_case(client, case["id"]))["category_path"] == [other["id"], late["id"]]
    assert_problem(await client.patch(f"/categories/{other['id']}", json={"parent_id": late["id"]},
                                      headers=MANAGER), 422)  # under its own child

    assert_problem(await client.patch(f"/categories/{other['id']}", json={"retired": True}, headers=MANAGER), 409)
    retired = await client.patch(f"/categories/{late['id']}", json={"retired": True}, headers=MANAGER)
    assert retired.json()["active"] is False and retired.json()["retired_at"]
    assert_problem(await client.post("/cases", json={"kind": "comment", "customer_id": owners.customer_(),
                                                     "channel": "web", "subject": "s", "body": "b",
                                                     "category_id": late["id"]}, headers=SUPPORT), 422)
    assert (await get_case(client, case["id"]))["category_id"] == late["id"]  # history kept
    active = [c["id"] for c in (await client.get("/categories", headers=SUPPORT)).json()]
    everything = [c["id"] for c in (await client.get("/categories", params={"include_retired": "true"},
                                                     headers=SUPPORT)).json()]
    assert late["id"] not in active and late["id"] in everything
    for bad in ({}, {"name": None}, {"retired": "yes"}, {"name": ""}, {"parent_id": unique("c")}):
        assert_problem(await client.patch(f"/categories/{other['id']}", json=bad, headers=MANAGER), 422)
    assert_problem(await client.patch(f"/categories/{unique('c')}", json={"name": "x"}, headers=MANAGER), 404)


async def test_policy_versions_apply_to_new_cases_only(database_url: str, topics: str) -> None:
    owners = FakeOwners()
    app = create_app(settings_for(database_url, topics), owner_directory=owners, staff_lookup=AnyEmployee())
    async with app_client(app) as client:
        before = await open_case(client, owners.customer_(), priority="normal")
        incomplete = {"targets": [{"kind": "claim", "priority": "low", "first_response": None, "resolution": None}]}
        problem = assert_problem(await client.put("/sla-policies", json=incomplete, headers=MANAGER), 422)
        assert "complaint/urgent" in problem["uncovered"]
        twice = policy(60, 120)
        twice["targets"].append(twice["targets"][0])
        assert "complaint/normal" in assert_problem(await client.put("/sla-policies", json=twice, headers=MANAGER),
                                                    422)["duplicates"]
        for bad in ({"targets": [{"kind": None, "priority": "low", "first_response": {"seconds": "60"},
                                  "resolution": None}]},
                    {"targets": [{"kind": None, "priority": "low", "first_response": {"seconds": 0},
                                  "resolution": None}]},
                    {"targets": [{"kind": None, "priority": "low", "first_response": {"seconds": 60,
                                                                                     "working_time": 1},
                                  "resolution": None}]}):
            assert_problem(await client.put("/sla-policies", json=bad, headers=MANAGER), 422)
        put = await client.put("/sla-policies", json={**policy(60, 120, working_time=False),
                                                      "raise_priority_segments": ["Retail"]}, headers=MANAGER)
        assert put.status_code == 200 and put.json()["version"] == 1
        assert put.json()["raise_priority_segments"] == ["retail"]
        after = await open_case(client, owners.customer_(segment="retail"), kind="complaint", priority="normal")
        assert after["sla"]["policy_version"] == 1 and after["sla"]["first_response"]["target_seconds"] == 60
        assert after["sla"]["first_response"]["working_time"] is False
        kept = await get_case(client, before["id"])
        assert kept["sla"]["policy_version"] == 0 and kept["sla"]["first_response"]["target_seconds"] == 4 * 3600
        raised = await open_case(client, owners.customer_(segment="retail"), kind="complaint")
        assert raised["priority"] == "high"  # retail is now a raised segment
        assert (await client.get("/sla-policies", headers=ANALYST)).json()["version"] == 1


async def test_a_calendar_change_keeps_what_clocks_counted_and_replans_them(database_url: str, topics: str) -> None:
    owners = FakeOwners()
    app = create_app(settings_for(database_url, topics), owner_directory=owners, staff_lookup=AnyEmployee())
    async with app_client(app) as client:
        shown = (await client.get("/calendar", headers=SUPPORT)).json()
        assert shown["version"] == 0 and shown["time_zone"] == "Asia/Jakarta" and shown["country"] == "ID"
        assert shown["week"]["monday"] == [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
        assert shown["upcoming_holidays"]
        case = await open_case(client, owners.customer_(), priority="normal")
        for bad in ({"time_zone": "Mars/Base", "week": ALWAYS},
                    {"time_zone": "Asia/Jakarta", "week": {"monday": [{"start": "09:00", "end": "12:00"},
                                                                      {"start": "11:00", "end": "13:00"}]}},
                    {"time_zone": "Asia/Jakarta", "week": {"monday": [{"start": "12:00", "end": "09:00"}]}},
                    {"time_zone": "Asia/Jakarta", "week": {}},
                    {"time_zone": "Asia/Jakarta", "week": ALWAYS, "country": "XX"},
                    {"time_zone": "Asia/Jakarta", "week": ALWAYS, "holidays": [{"date": "2026-02-30"}]},
                    {"time_zone": "Asia/Jakarta", "week": ALWAYS, "holidays": [{"date": 20260101}]},
                    {"time_zone": "Asia/Jakarta", "week": {"funday": []}}):
            assert_problem(await client.put("/calendar", json=bad, headers=MANAGER), 422)
        put = await client.put("/calendar", json={"time_zone": "Europe/Berlin", "week": ALWAYS, "country": "DE",
                                                  "holidays": [{"date": "2026-12-31", "name": "Inventory"}]},
                               headers=MANAGER)
        assert put.status_code == 200 and put.json()["version"] == 1
        replanned = await get_case(client, case["id"])
        clock = replanned["sla"]["first_response"]
        assert replanned["sla"]["calendar_time_zone"] == "Europe/Berlin"
        due = datetime.fromisoformat(clock["due_at"])
        # Four working hours, now counted round the clock (only holidays are off): due within a day.
        assert due - datetime.now(UTC) < timedelta(hours=4, minutes=1) + timedelta(days=1)
        assert clock["elapsed_seconds"] >= 0 and clock["state"] == "on_track"


async def employee(client: httpx.AsyncClient, employee_id: str, role: str, *, active: bool = True) -> None:
    """Feed the staff-directory replica through the consumer's handler (as the incentives event would)."""
    event = envelope("incentives.employee.hired", {
        "employee_id": employee_id, "name": f"Staff {employee_id}", "role": role, "team": None, "email": None,
        "hired_on": "2024-01-02", "left_on": None, "active": active}, key=employee_id)
    async with client._transport.app.state.runtime.db.transaction() as session:  # type: ignore[attr-defined]
        await handlers.get("incentives.employee.hired", 1)(session, event)  # type: ignore[misc]


async def test_standards_versions_acknowledgements_and_citations(client: httpx.AsyncClient,
                                                                 owners: FakeOwners) -> None:
    tag = uuid.uuid4().hex[:6]
    support_a, support_b, sales = f"sup-a-{tag}", f"sup-b-{tag}", f"sal-{tag}"
    for employee_id, role in ((support_a, "support"), (support_b, "support"), (sales, "sales")):
        await employee(client, employee_id, role)
    await employee(client, f"gone-{tag}", "support", active=False)
    created = await client.post("/standards", json={
        "kind": "conflict_algorithm", "title": "Conflict with a customer", "owner_id": "head-1",
        "required_roles": ["support"], "body": "1. Listen.\n2. Apologise.\n3. Offer a remedy."}, headers=MANAGER)
    assert created.status_code == 201, created.text
    standard = created.json()
    assert standard["version_in_force"] == 1 and standard["versions"] == [1]
    sid = standard["id"]
    v2 = await client.post(f"/standards/{sid}/versions", json={"body": "1. Listen first.", "change_note": "shorter"},
                           headers=MANAGER)
    assert v2.status_code == 201 and v2.json()["version"] == 2
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    v3 = await client.post(f"/standards/{sid}/versions", json={"body": "v3", "effective_from": future},
                           headers=MANAGER)
    assert v3.status_code == 201
    shown = (await client.get(f"/standards/{sid}", headers=SUPPORT)).json()
    assert shown["version_in_force"] == 2 and shown["latest_version"] == 3 and shown["current"]["body"] == \
        "1. Listen first."
    assert (await client.get(f"/standards/{sid}/versions/1", headers=SUPPORT)).json()["body"].startswith("1. Listen.")
    assert_problem(await client.get(f"/standards/{sid}/versions/9", headers=SUPPORT), 404)
    assert_problem(await client.post(f"/standards/{sid}/versions", json={
        "body": "x", "effective_from": datetime.now(UTC).isoformat()}, headers=MANAGER), 422)  # before v3

    as_a = bearer("support", subject=support_a)
    first = await client.post(f"/standards/{sid}/acknowledgements", json={}, headers=as_a)
    assert first.status_code == 201 and first.json()["version"] == 2 and first.json()["employee_verified"]
    again = await client.post(f"/standards/{sid}/acknowledgements", json={"version": 2}, headers=as_a)
    assert again.status_code == 200 and again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert_problem(await client.post(f"/standards/{sid}/acknowledgements", json={"version": 1}, headers=as_a), 409)
    assert_problem(await client.post(f"/standards/{sid}/acknowledgements", json={"employee_id": support_b},
                                     headers=as_a), 422)  # only a manager records for someone else
    newcomer = await client.post(f"/standards/{sid}/acknowledgements", json={"employee_id": f"new-{tag}"},
                                 headers=MANAGER)
    assert newcomer.status_code == 201 and newcomer.json()["employee_verified"] is True  # asked for and kept
    status = (await client.get(f"/standards/{sid}/acknowledgements", headers=MANAGER)).json()
    assert status["version"] == 2 and status["required_roles"] == ["support"]
    assert {(a["employee_id"], a["verified"]) for a in status["acknowledged"]} == {(support_a, True),
                                                                                  (f"new-{tag}", True)}
    pending = {p["employee_id"] for p in status["pending"]}
    assert support_b in pending and sales not in pending and f"gone-{tag}" not in pending and support_a not in pending

    case = await open_case(client, owners.customer_())
    cited = await reply(client, case["id"], cited_standard_id=sid)
    assert cited["response"]["cited_standard_version"] == 2
    await resolve(client, case["id"], cited_standard_id=sid, cited_standard_version=1)
    assert_problem(await client.post(f"/cases/{case['id']}/responses", json={
        "kind": "note", "body": "b", "cited_standard_id": sid, "cited_standard_version": 7}, headers=SUPPORT), 422)
    assert_problem(await client.post(f"/cases/{case['id']}/responses", json={
        "kind": "note", "body": "b", "cited_standard_id": unique("s")}, headers=SUPPORT), 422)
    listed = (await client.get(f"/standards/{sid}/citations", params={"limit": 1}, headers=SUPPORT)).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    rest = (await client.get(f"/standards/{sid}/citations", params={"cursor": listed["next_cursor"]},
                             headers=SUPPORT)).json()
    citations = listed["items"] + rest["items"]
    assert [(c["cited_in"], c["cited_version"]) for c in citations] == [("resolution", 1), ("response", 2)]
    assert {c["case_id"] for c in citations} == {case["id"]}
    page = (await client.get("/standards", params={"kind": "conflict_algorithm"}, headers=ANALYST)).json()
    assert sid in [s["id"] for s in page["items"]]
    assert_problem(await client.post("/standards", json={"kind": "poem", "title": "t", "owner_id": "o",
                                                         "body": "b"}, headers=MANAGER), 422)
    assert_problem(await client.get(f"/standards/{unique('s')}", headers=SUPPORT), 404)
