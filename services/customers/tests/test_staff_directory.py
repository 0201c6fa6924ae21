"""Managers and employees given to customers are checked against the staff directory: the replica fed by
incentives' events, and the real incentives service over HTTP when the replica has not heard yet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from services.customers.app import create_app
from services.customers.tests.conftest import MANAGER, assert_problem, person, register, settings_for, unique
from services.incentives.app import create_app as create_incentives_app
from services.incentives.config import IncentivesSettings
from shared.clients.owner_lookup import OwnerClient
from shared.events.contracts import incentives as incentive_events
from shared.staff.directory import IncentivesLookup
from shared.testing.apps import app_client, bearer, free_port
from shared.testing.events import Bus

pytestmark = pytest.mark.integration

HEAD = bearer("manager", subject="head-of-sales")


@pytest.fixture(scope="module")
async def incentives(postgres: Any, customers_topic: str) -> AsyncIterator[httpx.AsyncClient]:
    database = postgres.async_url(await postgres.create_database(prefix="staff_incentives"))
    app = create_incentives_app(IncentivesSettings(database_url=database, kafka_bootstrap=customers_topic,
                                                   bus_enabled=False))
    async with app_client(app) as client:
        client.app = app  # type: ignore[attr-defined]  # for an ASGI transport of customers' own
        yield client


@pytest.fixture(scope="module")
async def customers(module_database_url: str, customers_topic: str,
                    incentives: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Customers asking the real incentives app (in process) about employees it has not heard of."""
    transport = httpx.ASGITransport(app=incentives.app)  # type: ignore[attr-defined]
    asked = OwnerClient(owner="incentives", base_url="http://incentives", timeout_seconds=2.0,
                        token=HEAD["Authorization"].removeprefix("Bearer "), transport=transport)
    app = create_app(settings_for(module_database_url, customers_topic), staff_lookup=IncentivesLookup(asked))
    async with app_client(app) as client:
        yield client


async def hire(incentives: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await incentives.post("/employees", headers=HEAD, json={
        "name": "Dimas Saputra", "role": "account_manager", "hired_on": "2024-05-02", **overrides})
    assert response.status_code == 201, response.text
    return response.json()


async def assign(customers: httpx.AsyncClient, customer_id: str, employee_id: str) -> httpx.Response:
    return await customers.put(f"/customers/{customer_id}/manager", json={"employee_id": employee_id},
                               headers=MANAGER)


async def test_an_employee_hired_a_moment_ago_is_asked_for_and_kept(customers: httpx.AsyncClient,
                                                                    incentives: httpx.AsyncClient) -> None:
    employee = await hire(incentives)  # incentives' bus is off here: only HTTP can tell customers
    customer = (await register(customers, person(name="Eka Putri")))["id"]
    assigned = await assign(customers, customer, employee["id"])
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["manager_id"] == employee["id"]


async def test_unknown_and_departed_employees_are_refused_by_name(customers: httpx.AsyncClient,
                                                                  incentives: httpx.AsyncClient) -> None:
    customer = (await register(customers, person(name="Eka Putri")))["id"]
    nobody = unique("nobody-")
    refused = assert_problem(await assign(customers, customer, nobody), 422)
    assert (refused["employee_id"], refused["field"]) == (nobody, "employee_id")
    assert refused["type"].endswith("employee-unknown")

    gone = await hire(incentives, name="Rudi Hartono")
    left = await incentives.patch(f"/employees/{gone['id']}", json={"active": False}, headers=HEAD)
    assert left.status_code == 200, left.text
    departed = assert_problem(await assign(customers, customer, gone["id"]), 422)
    assert departed["type"].endswith("employee-departed") and departed["left_on"] == left.json()["left_on"]
    consultation = await customers.post(f"/customers/{customer}/consultations", headers=MANAGER, json={
        "topic": "Catalogue", "due_at": datetime.now(UTC).isoformat(), "employee_id": gone["id"]})
    assert_problem(consultation, 422)
    # Nothing was written: the customer still has no manager.
    assert (await customers.get(f"/customers/{customer}/manager", headers=MANAGER)).json()["manager_id"] is None


async def test_the_replica_follows_incentives_events_in_any_order(customers: httpx.AsyncClient, bus: Bus) -> None:
    employee_id = unique("emp-")

    def snapshot(revision: int, active: bool) -> incentive_events.EmployeeSnapshot:
        kind = incentive_events.EmployeeHiredV1 if revision == 1 else incentive_events.EmployeeLeftV1
        return kind(employee_id=employee_id, name="Wulan Sari", role="sales", team=None, email=None,
                    hired_on=date(2024, 1, 2), left_on=None if active else date(2026, 11, 30), active=active,
                    revision=revision)

    customer = (await register(customers, person(name="Eka Putri")))["id"]
    # The departure (revision 2) arrives before the hiring (revision 1): the replica keeps the departure.
    await bus.publish(snapshot(2, active=False), key=employee_id, aggregate_id=employee_id)
    await bus.publish(snapshot(1, active=True), key=employee_id, aggregate_id=employee_id)

    async def refused_as_departed() -> None:
        for _ in range(100):
            response = await assign(customers, customer, employee_id)
            if response.status_code == 422 and response.json()["type"].endswith("employee-departed"):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(response.text)

    await refused_as_departed()


async def test_incentives_down_and_the_replica_unaware_is_a_503(module_database_url: str,
                                                                customers_topic: str) -> None:
    down = OwnerClient(owner="incentives", base_url=f"http://127.0.0.1:{free_port()}", timeout_seconds=0.5,
                       token="t")
    app = create_app(settings_for(module_database_url, customers_topic, bus_enabled=False),
                     staff_lookup=IncentivesLookup(down))
    async with app_client(app) as client:
        customer = (await register(client, person(name="Eka Putri")))["id"]
        response = await assign(client, customer, unique("emp-"))
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] and response.headers["content-type"] == "application/problem+json"
