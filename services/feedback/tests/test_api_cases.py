"""The cases API against the real PostgreSQL and broker: the whole workflow and its events, every
refused transition, references checked against the replicas with the owners' fallback, filters,
pagination and roles. The calendar here is the default one (Jakarta, 09-12 and 13-17, Indonesian
holidays), so clocks run in working time and nothing breaches during a test."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.feedback import workflow
from services.feedback.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SERVICE,
    SUPPORT,
    FakeOwners,
    assert_problem,
    case_body,
    command,
    get_case,
    open_case,
    reply,
    resolve,
    unique,
)
from shared.testing.events import EventLog

pytestmark = pytest.mark.integration

FACTS = ("case_id", "case_number", "kind", "customer_id", "order_id", "product_id", "category_id", "category_path",
         "priority", "channel", "status", "assignee_id", "employee_id")


async def test_a_case_goes_through_the_whole_workflow_and_publishes_each_step(
        client: httpx.AsyncClient, owners: FakeOwners, event_log: EventLog) -> None:
    customer = owners.customer_(segment="wholesale")
    order = owners.order_(customer, "prd-a4", "prd-ink")
    category = (await client.post("/categories", json={"name": unique("Quality ")}, headers=MANAGER)).json()
    case = await open_case(client, customer, kind="claim", order_id=order, line_nos=[2], category_id=category["id"],
                           tags=["Wet", "wet", "a4"], employee_id="emp-courier")
    assert case["status"] == "new" and case["number"].startswith("C-")
    assert case["product_id"] == "prd-ink"  # the one product on the named line
    assert case["tags"] == ["a4", "wet"] and case["category_path"] == [category["id"]]
    assert case["priority"] == "high" and case["priority_by_rule"]  # a claim is high; wholesale stays high
    assert case["employee_verified"] is True  # unknown to the replica: asked for (the directory port) and kept
    assert case["sla"]["state"] == "on_track" and case["sla"]["calendar_time_zone"] == "Asia/Jakarta"
    assert case["sla"]["first_response"]["target_seconds"] == 2 * 3600
    assert case["allowed_commands"] == workflow.allowed_commands("new")
    case_id = case["id"]

    assert (await command(client, case_id, "assign", {"assignee_id": "emp-7"}))["status"] == "assigned"
    assert (await command(client, case_id, "start"))["status"] == "in_progress"
    answered = await reply(client, case_id)
    assert answered["response"]["first_response"] and answered["case"]["first_response_at"]
    assert answered["case"]["sla"]["first_response"]["run"] == "stopped"
    assert (await reply(client, case_id))["response"]["first_response"] is False  # only the first stamps it
    waiting = await command(client, case_id, "wait")
    assert waiting["status"] == "waiting_on_customer" and waiting["sla"]["resolution"]["run"] == "paused"
    back = await reply(client, case_id, kind="customer_message", body="Photos of the wet reams attached.")
    assert back["case"]["status"] == "in_progress" and back["case"]["sla"]["resolution"]["run"] == "running"
    await reply(client, case_id, kind="note", body="Courier confirmed rain damage.")
    resolved = await resolve(client, case_id)
    assert resolved["case"]["status"] == "resolved" and resolved["resolution"]["compensation_amount"] == "95000.00"
    rated = await command(client, case_id, "rating", {"rating": 5, "comment": "Fast and fair"})
    assert rated["resolution"]["rating"] == 5 and rated["case"]["rated"]
    assert (await command(client, case_id, "close"))["status"] == "closed"
    reopened = await command(client, case_id, "reopen")
    assert reopened["status"] == "in_progress" and reopened["rated"] is False
    second = await resolve(client, case_id, compensation="none", compensation_amount=None, outcome="answered",
                           text="Explained the storage advice.")
    assert second["resolution"]["resolution_no"] == 2
    await command(client, case_id, "rating", {"rating": 3})

    detail = await get_case(client, case_id)
    assert [t["kind"] for t in detail["timeline"]] == [
        "received", "assigned", "started", "replied", "replied", "waiting", "customer_message", "resumed", "noted",
        "resolved", "rated", "closed", "reopened", "resolved", "rated"]
    assert all(t["actor"] and t["at"] for t in detail["timeline"])
    assert [r["kind"] for r in detail["responses"]] == ["reply", "reply", "customer_message", "note"]
    assert [(r["resolution_no"], r["rating"]) for r in detail["resolutions"]] == [(1, 5), (2, 3)]

    published = await event_log.wait_for(lambda r: r.payload.get("case_id") == case_id, count=14)
    types = [r.type for r in published]
    assert types == ["feedback.case.received", "feedback.case.assigned", "feedback.case.responded",
                     "feedback.case.responded", "feedback.case.waiting", "feedback.case.responded",
                     "feedback.case.resumed", "feedback.case.responded", "feedback.case.resolved",
                     "feedback.case.rated", "feedback.case.closed", "feedback.case.reopened",
                     "feedback.case.resolved", "feedback.case.rated"]
    for record in published:
        assert record.key == customer and record.envelope["customer_id"] == customer
        assert set(FACTS) <= set(record.payload)
        assert record.payload["kind"] == "claim" and record.payload["order_id"] == order
        assert record.payload["employee_id"] == "emp-courier" and record.payload["category_id"] == category["id"]
        for text in ("Kertas basah", "Photos of the wet", "Courier confirmed", "Two reams replaced", "Fast and fair"):
            assert text not in str(record.envelope)  # no free text travels
    received = published[0].payload
    assert received["line_nos"] == [2] and received["first_response_due_at"] and received["sla_policy_version"] == 0
    first = next(r for r in published if r.type == "feedback.case.responded").payload
    assert first["first_response"] and first["first_response_working_seconds"] is not None
    resolved_event = next(r for r in published if r.type == "feedback.case.resolved").payload
    assert resolved_event["compensation"] == "replacement" and resolved_event["compensation_amount"] == "95000.00"
    assert resolved_event["resolution_no"] == 1 and resolved_event["resolution_breached"] is False


async def test_priority_follows_the_rule_unless_given(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    retail, corporate = owners.customer_(segment="retail"), owners.customer_(segment="Corporate")
    assert (await open_case(client, retail, kind="suggestion"))["priority"] == "low"
    assert (await open_case(client, corporate, kind="suggestion"))["priority"] == "normal"
    assert (await open_case(client, corporate, kind="complaint"))["priority"] == "high"
    given = await open_case(client, retail, kind="comment", priority="urgent")
    assert given["priority"] == "urgent" and not given["priority_by_rule"]
    assert given["sla"]["first_response"]["target_seconds"] == 3600


# ----- refused transitions ---------------------------------------------------------------------------

async def _case_in(client: httpx.AsyncClient, owners: FakeOwners, status: str) -> str:
    case_id = (await open_case(client, owners.customer_()))["id"]
    steps = {"new": [], "assigned": ["assign"], "in_progress": ["assign", "start"],
             "waiting_on_customer": ["assign", "start", "wait"], "resolved": ["assign", "start", "resolve"],
             "closed": ["assign", "start", "resolve", "close"]}[status]
    for step in steps:
        if step == "assign":
            await command(client, case_id, "assign", {"assignee_id": "emp-1"})
        elif step == "resolve":
            await resolve(client, case_id)
        else:
            await command(client, case_id, step)
    return case_id


BODIES: dict[str, dict[str, Any] | None] = {
    "assign": {"assignee_id": "emp-2"}, "start": None, "wait": None, "resume": None, "reopen": None, "close": None,
    "resolve": {"outcome": "rejected", "text": "Not our fault.", "compensation": "none"},
    "rate": {"rating": 2},
    "reply": {"kind": "reply", "body": "b", "channel": "sms"}, "note": {"kind": "note", "body": "b"},
    "customer_message": {"kind": "customer_message", "body": "b", "channel": "phone"},
}
ROUTE = {"rate": "rating", "reply": "responses", "note": "responses", "customer_message": "responses"}


@pytest.mark.parametrize("status", ["new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed"])
async def test_every_refused_transition_is_a_409_naming_status_and_allowed_commands(
        client: httpx.AsyncClient, owners: FakeOwners, status: str) -> None:
    case_id = await _case_in(client, owners, status)
    allowed = workflow.allowed_commands(status)
    refused = [c for c in BODIES if c not in allowed]
    assert refused
    before = await get_case(client, case_id)
    for name in refused:
        response = await client.post(f"/cases/{case_id}/{ROUTE.get(name, name)}", json=BODIES[name],
                                     headers=SUPPORT)
        problem = assert_problem(response, 409, "invalid-case-transition")
        assert problem["case_status"] == status and problem["allowed_commands"] == allowed
        assert problem["command"] == name
    after = await get_case(client, case_id)
    assert after["timeline"] == before["timeline"] and after["status"] == status  # nothing written


async def test_a_second_rating_of_one_resolution_is_refused(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    case_id = await _case_in(client, owners, "resolved")
    await command(client, case_id, "rating", {"rating": 4})
    problem = assert_problem(await client.post(f"/cases/{case_id}/rating", json={"rating": 1}, headers=SUPPORT),
                             409, "invalid-case-transition")
    assert "already rated" in problem["detail"] and "rate" not in problem["allowed_commands"]


async def test_the_same_assignment_again_changes_nothing(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    case_id = await _case_in(client, owners, "assigned")
    await command(client, case_id, "assign", {"assignee_id": "emp-1"})
    assert [t["kind"] for t in (await get_case(client, case_id))["timeline"]] == ["received", "assigned"]


# ----- references: replicas and the owners' fallback --------------------------------------------------

async def test_references_are_checked_and_refusals_write_nothing(client: httpx.AsyncClient,
                                                                 owners: FakeOwners) -> None:
    customer = owners.customer_()
    order = owners.order_(customer, "prd-1")
    someone_else = owners.order_(owners.customer_())
    retired = (await client.post("/categories", json={"name": unique("Old ")}, headers=MANAGER)).json()["id"]
    await client.patch(f"/categories/{retired}", json={"retired": True}, headers=MANAGER)
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        (case_body(str(uuid.uuid4())), 422, "unknown-reference"),  # no such customer
        (case_body(customer, order_id=unique("ord-")), 422, "unknown-reference"),
        (case_body(customer, product_id=unique("prd-")), 422, "unknown-reference"),
        (case_body(customer, order_id=someone_else), 422, "unknown-reference"),
        (case_body(customer, order_id=order, line_nos=[9]), 422, "unprocessable"),
        (case_body(customer, order_id=order, product_id=owners.product_()), 422, "unknown-reference"),
        (case_body(customer, category_id=unique("c")), 422, "unknown-reference"),
        (case_body(customer, category_id=retired), 422, "unprocessable"),
        (case_body(customer, kind="claim"), 422, "validation"),  # a claim names its order
        (case_body(customer, line_nos=[1]), 422, "validation"),  # lines need the order
        (case_body(customer, priority="extreme"), 422, "validation"),
        (case_body(customer, channel="pigeon"), 422, "validation"),
    ]
    for body, status, slug in cases:
        assert_problem(await client.post("/cases", json=body, headers=SUPPORT), status, slug)
    listed = await client.get("/cases", params={"customer_id": customer}, headers=SUPPORT)
    assert listed.json()["items"] == []


async def test_merged_erased_and_unverifiable_customers(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    survivor = owners.customer_()
    merged = owners.customer_(status="merged", merged_into_id=survivor)
    erased = owners.customer_(status="erased")
    assert assert_problem(await client.post("/cases", json=case_body(merged), headers=SUPPORT), 409,
                          "customer-merged")["survivor_id"] == survivor
    assert_problem(await client.post("/cases", json=case_body(erased), headers=SUPPORT), 410, "customer-erased")
    await open_case(client, survivor)
    owners.down = True
    try:
        unknown_yet = str(uuid.uuid4())
        response = await client.post("/cases", json=case_body(unknown_yet), headers=SUPPORT)
        assert_problem(response, 503, "dependency-unavailable")
        # Known to the replica already: no question to the owner, so the outage does not matter.
        assert (await client.post("/cases", json=case_body(survivor), headers=SUPPORT)).status_code == 201
    finally:
        owners.down = False


async def test_the_owner_is_asked_once_and_the_answer_kept(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    customer = owners.customer_()
    order = owners.order_(customer, "prd-kept")
    await open_case(client, customer, order_id=order)
    asked = list(owners.calls)
    await open_case(client, customer, order_id=order, product_id="prd-kept")
    assert owners.calls == asked  # the replicas answered the second time


async def test_idempotency_key_replays_the_case_and_refuses_another_body(client: httpx.AsyncClient,
                                                                         owners: FakeOwners) -> None:
    customer = owners.customer_()
    key = {"Idempotency-Key": unique("k-"), **SUPPORT}
    first = await client.post("/cases", json=case_body(customer), headers=key)
    again = await client.post("/cases", json=case_body(customer), headers=key)
    assert first.status_code == again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = await client.post("/cases", json=case_body(customer, subject="Other"), headers=key)
    assert_problem(other, 422)
    listed = await client.get("/cases", params={"customer_id": customer}, headers=SUPPORT)
    assert len(listed.json()["items"]) == 1


# ----- lists ---------------------------------------------------------------------------------------------

async def test_filters_and_keyset_pagination(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    customer = owners.customer_()
    order = owners.order_(customer, "prd-f1", "prd-f2")
    root = (await client.post("/categories", json={"name": unique("Root ")}, headers=MANAGER)).json()["id"]
    child = (await client.post("/categories", json={"name": "Child", "parent_id": root}, headers=MANAGER)).json()["id"]
    a = await open_case(client, customer, category_id=child, priority="urgent", order_id=order, product_id="prd-f2")
    b = await open_case(client, customer, kind="suggestion", category_id=root, assignee_id="emp-f")
    c = await open_case(client, customer, kind="comment")
    await command(client, c["id"], "assign", {"assignee_id": "emp-f"})

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/cases", params={"customer_id": customer, **params}, headers=ANALYST)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]  # newest first
    assert await ids(category_id=root) == [b["id"], a["id"]]  # the subtree
    assert await ids(category_id=child) == [a["id"]]
    assert await ids(kind="suggestion") == [b["id"]]
    assert await ids(status="assigned") == [c["id"], b["id"]]
    assert await ids(priority="urgent") == [a["id"]]
    assert await ids(assignee_id="emp-f") == [c["id"], b["id"]]
    assert await ids(order_id=order) == [a["id"]] and await ids(product_id="prd-f2") == [a["id"]]
    assert await ids(sla_state="on_track") == [c["id"], b["id"], a["id"]]
    assert await ids(sla_state="breached") == [] and await ids(sla_state="at_risk") == []
    assert await ids(created_from=b["received_at"]) == [c["id"], b["id"]]
    assert await ids(created_to=b["received_at"]) == [a["id"]]
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"customer_id": customer, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/cases", params=params, headers=SUPPORT)).json()
        pages += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == [c["id"], b["id"], a["id"]]
    for bad in ({"created_from": "0"}, {"created_from": "2026-01-01T00:00:00"}, {"sla_state": "late"},
                {"limit": "0"}, {"limit": "201"}, {"cursor": "garbage"}, {"category_id": unique("c")}):
        assert_problem(await client.get("/cases", params=bad, headers=SUPPORT), 422)


# ----- roles ---------------------------------------------------------------------------------------------

async def test_roles(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    customer = owners.customer_()
    assert (await client.post("/cases", json=case_body(customer), headers=SERVICE)).status_code == 201
    assert_problem(await client.post("/cases", json=case_body(customer), headers=ANALYST), 403)
    assert_problem(await client.post("/cases", json=case_body(customer)), 401)
    case_id = (await open_case(client, customer, headers=ADMIN))["id"]
    assert (await client.get(f"/cases/{case_id}", headers=ANALYST)).status_code == 200
    assert_problem(await client.post(f"/cases/{case_id}/assign", json={"assignee_id": "e"}, headers=ANALYST), 403)
    assert_problem(await client.post(f"/cases/{case_id}/assign", json={"assignee_id": "e"}, headers=SERVICE), 403)
    assert_problem(await client.get("/cases/stats", headers=SUPPORT), 403)
    assert (await client.get("/cases/stats", headers=ANALYST)).status_code == 200
    assert_problem(await client.post("/categories", json={"name": "x"}, headers=SUPPORT), 403)
    assert_problem(await client.put("/calendar", json={}, headers=SUPPORT), 403)
    assert_problem(await client.put("/sla-policies", json={}, headers=ANALYST), 403)
    assert_problem(await client.get(f"/cases/{unique('c')}", headers=SUPPORT), 404, "case-not-found")
