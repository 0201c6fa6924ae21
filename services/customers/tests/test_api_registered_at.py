"""An imported customer keeps the date of its first registration (``registered_at``), never a future one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from services.customers.tests.conftest import SUPPORT, assert_problem, person, register
from shared.testing.events import EventLog


async def test_registered_at_becomes_created_at_in_the_record_and_the_event(client: httpx.AsyncClient,
                                                                             event_log: EventLog) -> None:
    created = await register(client, person(registered_at="2024-03-05T02:30:00Z"))
    [event] = await event_log.wait_type("customers.customer.registered", customer_id=created["id"])
    assert event.payload["created_at"].startswith("2024-03-05T02:30:00")
    assert event.envelope["occurred_at"].startswith("2024-03-05T02:30:00")
    assert created["created_at"].startswith("2024-03-05T02:30:00")
    fetched = (await client.get(f"/customers/{created['id']}", headers=SUPPORT)).json()
    assert fetched["created_at"] == created["created_at"]
    listed = (await client.get("/customers", params={"created_to": "2024-03-06T00:00:00Z", "q": created["emails"][0]},
                               headers=SUPPORT)).json()["items"]
    assert [c["id"] for c in listed] == [created["id"]]


async def test_without_registered_at_a_customer_is_registered_now(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    created = await register(client, person())
    assert datetime.fromisoformat(created["created_at"]) >= before


async def test_a_future_registration_is_refused(client: httpx.AsyncClient) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    problem = assert_problem(await client.post("/customers", json=person(registered_at=future), headers=SUPPORT), 422)
    assert "future" in problem["detail"]


async def test_a_registration_without_offset_or_as_a_number_is_refused(client: httpx.AsyncClient) -> None:
    for bad in ("2024-03-05T02:30:00", 1709605800, "yesterday"):
        assert_problem(await client.post("/customers", json=person(registered_at=bad), headers=SUPPORT), 422)
