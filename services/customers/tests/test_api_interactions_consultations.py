"""The interaction log and follow-up consultations (a manager's agenda)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.customers.tests.conftest import (
    ANALYST,
    MANAGER,
    SUPPORT,
    assert_problem,
    register,
    unique,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def touch(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"channel": "phone", "direction": "in", "employee_id": "emp-7",
                               "summary": "asked for the back-to-school price list", "outcome": "sent the list",
                               "occurred_at": (NOW - timedelta(hours=2)).isoformat()}
    body.update(overrides)
    return body


# ----- interactions ---------------------------------------------------------------------

async def test_logging_an_interaction(client: httpx.AsyncClient) -> None:
    created = await register(client)
    jakarta = (NOW - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Jakarta"))
    response = await client.post(f"/customers/{created['id']}/interactions", headers=SUPPORT,
                                 json=touch(occurred_at=jakarta.isoformat(), summary="  trimmed  "))
    assert response.status_code == 201, response.text
    logged = response.json()
    assert logged["customer_id"] == created["id"]
    assert logged["summary"] == "trimmed"
    assert logged["recorded_by"] == "sup-1"
    assert datetime.fromisoformat(logged["occurred_at"].replace("Z", "+00:00")) == NOW - timedelta(hours=2)
    listed = (await client.get(f"/customers/{created['id']}/interactions", headers=MANAGER)).json()
    assert listed == {"items": [logged], "next_cursor": None}


async def test_an_interaction_in_the_future_is_422(client: httpx.AsyncClient) -> None:
    created = await register(client)
    future = (NOW + timedelta(days=1)).isoformat()
    response = await client.post(f"/customers/{created['id']}/interactions", headers=SUPPORT,
                                 json=touch(occurred_at=future))
    assert assert_problem(response, 422)["field"] == "occurred_at"


@pytest.mark.parametrize("changes", [
    {"occurred_at": "2026-03-01T09:00:00"},          # naive: which time zone?
    {"occurred_at": "yesterday"},
    {"occurred_at": "9999-12-31T23:00:00-12:00"},    # leaves the calendar in UTC
    {"channel": "fax"},
    {"direction": "sideways"},
    {"summary": ""},
    {"summary": "x" * 5001},
    {"outcome": "x" * 201},
    {"employee_id": "x" * 65},
    {"recorded_by": "someone"},
])
async def test_invalid_interactions_are_422(client: httpx.AsyncClient, changes: dict[str, object]) -> None:
    created = await register(client)
    response = await client.post(f"/customers/{created['id']}/interactions", headers=SUPPORT, json=touch(**changes))
    assert_problem(response, 422)


async def test_the_interaction_log_pages_most_recent_first(client: httpx.AsyncClient) -> None:
    created = await register(client)
    logged = []
    for hours in (5, 1, 3, 4, 2):
        response = await client.post(f"/customers/{created['id']}/interactions", headers=SUPPORT,
                                     json=touch(occurred_at=(NOW - timedelta(hours=hours)).isoformat()))
        logged.append((hours, response.json()["id"]))
    # Two touches at the same instant are both listed, once.
    for _ in range(2):
        response = await client.post(f"/customers/{created['id']}/interactions", headers=SUPPORT,
                                     json=touch(occurred_at=(NOW - timedelta(hours=3)).isoformat()))
        logged.append((3, response.json()["id"]))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"/customers/{created['id']}/interactions", params=params, headers=MANAGER)).json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    by_id = dict((i, h) for h, i in logged)
    assert [by_id[i] for i in seen] == sorted(by_id[i] for i in seen)


async def test_interactions_of_unknown_customers_are_404_and_need_staff(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/customers/nobody/interactions", headers=SUPPORT, json=touch()), 404)
    assert_problem(await client.get("/customers/nobody/interactions", headers=SUPPORT), 404)
    created = await register(client)
    assert_problem(await client.post(f"/customers/{created['id']}/interactions", headers=ANALYST, json=touch()), 403)


# ----- consultations --------------------------------------------------------------------

async def schedule(client: httpx.AsyncClient, customer_id: str, **fields: object) -> httpx.Response:
    body: dict[str, object] = {"topic": "How is the new laminator working?",
                               "due_at": (NOW + timedelta(days=7)).isoformat()}
    body.update(fields)
    return await client.post(f"/customers/{customer_id}/consultations", json=body, headers=MANAGER)


async def test_a_consultation_defaults_to_the_permanent_manager(client: httpx.AsyncClient) -> None:
    created = await register(client)
    manager = unique("emp-")
    await client.put(f"/customers/{created['id']}/manager", json={"employee_id": manager}, headers=MANAGER)
    response = await schedule(client, created["id"], product_id="LAM-A3")
    assert response.status_code == 201, response.text
    consultation = response.json()
    assert consultation["employee_id"] == manager
    assert consultation["status"] == "scheduled" and consultation["outcome"] is None
    assert consultation["product_id"] == "LAM-A3" and consultation["created_by"] == "mgr-1"
    other = unique("emp-")
    named = (await schedule(client, created["id"], employee_id=other)).json()
    assert named["employee_id"] == other


async def test_a_consultation_without_employee_or_manager_is_422(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert assert_problem(await schedule(client, created["id"]), 422)["field"] == "employee_id"


@pytest.mark.parametrize("fields", [{"topic": ""}, {"due_at": "2026-01-01T10:00:00"}, {"due_at": None},
                                    {"employee_id": ""}, {"product_id": "x" * 65}, {"status": "completed"}])
async def test_invalid_consultations_are_422(client: httpx.AsyncClient, fields: dict[str, object]) -> None:
    created = await register(client)
    assert_problem(await schedule(client, created["id"], **{"employee_id": "emp-1", **fields}), 422)


async def agenda(client: httpx.AsyncClient, **params: object) -> list[dict[str, object]]:
    response = await client.get("/consultations", params=params, headers=SUPPORT)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_agenda_filters_by_employee_status_and_due_date(client: httpx.AsyncClient) -> None:
    customer = await register(client)
    employee = unique("emp-")
    ids = []
    for days in (3, 1, 10):
        response = await schedule(client, customer["id"], employee_id=employee,
                                  due_at=(NOW + timedelta(days=days)).isoformat())
        ids.append(response.json()["id"])
    await schedule(client, customer["id"], employee_id=unique("emp-"))  # someone else's
    soonest_first = [ids[1], ids[0], ids[2]]
    assert [c["id"] for c in await agenda(client, employee_id=employee)] == soonest_first
    before = (NOW + timedelta(days=5)).isoformat()
    assert [c["id"] for c in await agenda(client, employee_id=employee, due_before=before)] == [ids[1], ids[0]]

    done = await client.post(f"/consultations/{ids[0]}/complete", json={"outcome": "happy"}, headers=MANAGER)
    assert done.status_code == 200
    assert [c["id"] for c in await agenda(client, employee_id=employee, status="scheduled")] == [ids[1], ids[2]]
    assert [c["id"] for c in await agenda(client, employee_id=employee, status="completed")] == [ids[0]]
    assert [c["id"] for c in await agenda(client, customer_id=customer["id"], employee_id=employee)] == soonest_first

    # Pages of one.
    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"employee_id": employee, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/consultations", params=params, headers=SUPPORT)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == soonest_first


async def test_completing_a_consultation(client: httpx.AsyncClient) -> None:
    customer = await register(client)
    consultation = (await schedule(client, customer["id"], employee_id="emp-1")).json()
    url = f"/consultations/{consultation['id']}/complete"
    first = await client.post(url, json={"outcome": "ordered two more"}, headers=MANAGER)
    assert first.status_code == 200, first.text
    done = first.json()
    assert done["status"] == "completed" and done["outcome"] == "ordered two more" and done["completed_at"]
    again = await client.post(url, json={"outcome": " ordered two more "}, headers=SUPPORT)
    assert again.status_code == 200 and again.json() == done
    conflict = await client.post(url, json={"outcome": "something else"}, headers=MANAGER)
    assert assert_problem(conflict, 409)["consultation_id"] == consultation["id"]


async def test_completing_an_unknown_consultation_is_404_and_an_empty_outcome_422(
        client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/consultations/nope/complete", json={"outcome": "x"}, headers=MANAGER), 404)
    customer = await register(client)
    consultation = (await schedule(client, customer["id"], employee_id="emp-1")).json()
    for body in ({"outcome": ""}, {}, {"outcome": None}, {"outcome": "x" * 5001}):
        assert_problem(await client.post(f"/consultations/{consultation['id']}/complete", json=body,
                                         headers=MANAGER), 422)


async def test_the_agenda_refuses_bad_filters(client: httpx.AsyncClient) -> None:
    for params in ({"status": "lost"}, {"due_before": "tomorrow"}, {"due_before": "2026-01-01T00:00:00"},
                   {"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}, {"employee_id": "x" * 65}):
        assert_problem(await client.get("/consultations", params=params, headers=SUPPORT), 422)
    assert_problem(await client.get("/consultations", headers=ANALYST), 403)
