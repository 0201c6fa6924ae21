"""Consent per channel with its history, the preferred channel, and the permanent account manager."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.customers.tests.conftest import (
    ANALYST,
    MANAGER,
    SUPPORT,
    EventLog,
    assert_problem,
    register,
    unique,
)

pytestmark = pytest.mark.integration


def consents(*items: tuple[str, bool], preferred: str | None = None, source: str = "signed form 2026-03",
             **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"consents": [{"channel": c, "granted": g, "source": source} for c, g in items]}
    if preferred is not None:
        body["preferred_channel"] = preferred
    body.update(extra)
    return body


async def put_consents(client: httpx.AsyncClient, customer_id: str, body: dict[str, object],
                       headers: dict[str, str] = SUPPORT) -> httpx.Response:
    return await client.put(f"/customers/{customer_id}/consents", json=body, headers=headers)


async def test_consents_are_recorded_with_who_when_and_source(client: httpx.AsyncClient) -> None:
    created = await register(client)
    response = await put_consents(client, created["id"], consents(("email", True), ("sms", True), preferred="sms"),
                                  headers={**SUPPORT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == created["id"]
    assert body["consents"] == {"email": True, "sms": True}
    assert body["preferred_channel"] == "sms"
    assert {(h["channel"], h["granted"], h["source"], h["changed_by"]) for h in body["history"]} == {
        ("email", True, "signed form 2026-03", "sup-1"), ("sms", True, "signed form 2026-03", "sup-1")}
    assert all(h["changed_at"] for h in body["history"])

    withdrawn = await put_consents(client, created["id"], consents(("email", False), source="phone call"),
                                   headers=MANAGER)
    assert withdrawn.status_code == 200
    after = withdrawn.json()
    assert after["consents"] == {"email": False, "sms": True}
    assert after["history"][0]["channel"] == "email" and after["history"][0]["granted"] is False
    assert after["history"][0]["source"] == "phone call" and after["history"][0]["changed_by"] == "mgr-1"
    assert len(after["history"]) == 3

    fetched = await client.get(f"/customers/{created['id']}/consents", headers=ANALYST)
    assert fetched.status_code == 200 and fetched.json() == after
    profile = (await client.get(f"/customers/{created['id']}", headers=ANALYST)).json()
    assert profile["consents"] == {"email": False, "sms": True} and profile["preferred_channel"] == "sms"


async def test_repeating_a_consent_records_nothing_new(client: httpx.AsyncClient) -> None:
    created = await register(client)
    await put_consents(client, created["id"], consents(("post", True)))
    again = await put_consents(client, created["id"], consents(("post", True), source="second form"))
    assert again.status_code == 200
    assert len(again.json()["history"]) == 1


async def test_the_preferred_channel_needs_consent(client: httpx.AsyncClient) -> None:
    created = await register(client)
    response = await put_consents(client, created["id"], consents(("email", True), preferred="sms"))
    assert assert_problem(response, 422)["field"] == "preferred_channel"
    # Nothing of the refused request was kept.
    current = (await client.get(f"/customers/{created['id']}/consents", headers=SUPPORT)).json()
    assert current["consents"] == {} and current["history"] == []
    response = await put_consents(client, created["id"], consents(("sms", False), preferred="sms"))
    assert_problem(response, 422)


async def test_withdrawing_consent_of_the_preferred_channel_clears_it(client: httpx.AsyncClient) -> None:
    created = await register(client)
    await put_consents(client, created["id"], consents(("email", True), ("sms", True), preferred="email"))
    response = await put_consents(client, created["id"], consents(("email", False)))
    assert response.status_code == 200
    assert response.json()["preferred_channel"] is None
    # Withdrawing another channel leaves the preference alone.
    await put_consents(client, created["id"], consents(("email", True), preferred="email"))
    response = await put_consents(client, created["id"], consents(("sms", False)))
    assert response.json()["preferred_channel"] == "email"


async def test_the_preferred_channel_can_be_cleared_explicitly(client: httpx.AsyncClient) -> None:
    created = await register(client)
    await put_consents(client, created["id"], consents(("email", True), preferred="email"))
    response = await put_consents(client, created["id"], consents(("email", True), preferred=None,
                                                                  preferred_channel=None))
    assert response.status_code == 200 and response.json()["preferred_channel"] is None


@pytest.mark.parametrize("body", [
    {"consents": []},
    {"consents": [{"channel": "fax", "granted": True, "source": "x"}]},
    {"consents": [{"channel": "email", "granted": True, "source": "x"}] * 2},
    {"consents": [{"channel": "email", "granted": True}]},
    {"consents": [{"channel": "email", "granted": True, "source": "x" * 201}]},
    {"consents": [{"channel": "email", "granted": True, "source": "x", "extra": 1}]},
    {"consents": {"email": True}},
    {},
])
async def test_invalid_consents_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    created = await register(client)
    assert_problem(await put_consents(client, created["id"], body), 422)


async def test_consents_of_unknown_customers_are_404_and_analysts_cannot_change_them(
        client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/customers/nobody/consents", headers=SUPPORT), 404)
    assert_problem(await put_consents(client, "nobody", consents(("email", True))), 404)
    created = await register(client)
    assert_problem(await put_consents(client, created["id"], consents(("email", True)), headers=ANALYST), 403)


# ----- the permanent manager --------------------------------------------------------------

async def put_manager(client: httpx.AsyncClient, customer_id: str, employee_id: str,
                      headers: dict[str, str] = MANAGER) -> httpx.Response:
    return await client.put(f"/customers/{customer_id}/manager", json={"employee_id": employee_id}, headers=headers)


async def test_assigning_managers_keeps_the_history(client: httpx.AsyncClient) -> None:
    created = await register(client)
    first, second = unique("emp-"), unique("emp-")
    response = await put_manager(client, created["id"], first)
    assert response.status_code == 200, response.text
    assert response.json()["manager_id"] == first
    assert [(h["employee_id"], h["ended_at"]) for h in response.json()["history"]] == [(first, None)]

    response = await put_manager(client, created["id"], second)
    body = response.json()
    assert body["manager_id"] == second
    assert [h["employee_id"] for h in body["history"]] == [second, first]
    assert body["history"][0]["ended_at"] is None
    assert body["history"][1]["ended_at"] == body["history"][0]["assigned_at"]
    assert body["history"][0]["assigned_by"] == "mgr-1"

    fetched = await client.get(f"/customers/{created['id']}/manager", headers=ANALYST)
    assert fetched.json() == body
    assert (await client.get(f"/customers/{created['id']}", headers=ANALYST)).json()["manager_id"] == second


async def test_reassigning_the_same_manager_is_a_no_op(client: httpx.AsyncClient, event_log: EventLog) -> None:
    created = await register(client)
    employee = unique("emp-")
    first = await put_manager(client, created["id"], employee)
    second = await put_manager(client, created["id"], f" {employee} ")
    assert second.status_code == 200
    assert second.json() == first.json()
    assert len(second.json()["history"]) == 1
    await event_log.wait_for(lambda r: r.key == created["id"] and r.type == "customers.manager.assigned")
    await event_log.settle()
    assigned = [r for r in event_log.about(created["id"]) if r.type == "customers.manager.assigned"]
    assert len(assigned) == 1


async def test_concurrent_assignments_leave_one_current_manager(client: httpx.AsyncClient) -> None:
    created = await register(client)
    employees = [unique("emp-") for _ in range(5)]
    responses = await asyncio.gather(*(put_manager(client, created["id"], e) for e in employees))
    assert all(r.status_code == 200 for r in responses)
    body = (await client.get(f"/customers/{created['id']}/manager", headers=MANAGER)).json()
    assert len(body["history"]) == 5
    assert [h["employee_id"] for h in body["history"] if h["ended_at"] is None] == [body["manager_id"]]


@pytest.mark.parametrize("body", [{}, {"employee_id": ""}, {"employee_id": "x" * 65}, {"employee_id": 7},
                                  {"employee_id": None}, {"employee_id": "e", "note": "x"}])
async def test_invalid_manager_assignments_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    created = await register(client)
    assert_problem(await client.put(f"/customers/{created['id']}/manager", json=body, headers=MANAGER), 422)


async def test_only_managers_assign_and_unknown_customers_are_404(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert_problem(await put_manager(client, created["id"], "emp-1", headers=SUPPORT), 403)
    assert_problem(await put_manager(client, "nobody", "emp-1"), 404)
    assert_problem(await client.get("/customers/nobody/manager", headers=MANAGER), 404)
