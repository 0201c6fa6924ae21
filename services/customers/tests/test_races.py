"""Writes racing a merge or an erasure that is still being applied, on the real PostgreSQL.

Each test holds the merge (or erasure) open in a transaction of its own, sends the racing request,
lets it wait, then commits: the racing request must see the outcome, never write past it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from services.customers.app import create_app
from services.customers.tests.conftest import (
    MANAGER,
    SUPPORT,
    assert_problem,
    person,
    register,
    settings_for,
    unique_phone,
)
from services.customers.use_cases import customers, erasure
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

pytestmark = pytest.mark.integration

HELD = 1.0  # how long a racing request is left waiting on the open transaction


@pytest.fixture(scope="module")
async def app(module_database_url: str, customers_topic: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    customers_app = create_app(settings_for(module_database_url, customers_topic, bus_enabled=False),
                               staff_lookup=AnyEmployee())
    async with app_client(customers_app) as client:
        yield customers_app, client


def interaction_body(summary: str = "asked for a quote") -> dict:
    return {"channel": "phone", "direction": "in", "employee_id": "emp-1", "summary": summary,
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}


def consultation_body() -> dict:
    return {"topic": "follow up", "employee_id": "emp-1", "due_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}


async def test_an_interaction_or_consultation_for_a_customer_being_merged_waits_and_names_the_survivor(
        app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    customers_app, client = app
    survivor, duplicate = await register(client), await register(client)
    async with customers_app.state.runtime.db.transaction() as session:
        await customers.merge_customers(session, survivor_id=survivor["id"], duplicate_id=duplicate["id"])
        logging_ = asyncio.create_task(client.post(f"/customers/{duplicate['id']}/interactions",
                                                   json=interaction_body(), headers=MANAGER))
        scheduling = asyncio.create_task(client.post(f"/customers/{duplicate['id']}/consultations",
                                                     json=consultation_body(), headers=MANAGER))
        await asyncio.sleep(HELD)
        assert not logging_.done() and not scheduling.done()  # both wait for the merge
    for racing in (logging_, scheduling):
        assert assert_problem(await racing, 409)["survivor_id"] == survivor["id"]

    log = (await client.get(f"/customers/{survivor['id']}/interactions", headers=MANAGER)).json()["items"]
    assert log == []
    agenda = (await client.get("/consultations", params={"customer_id": duplicate["id"]}, headers=MANAGER)).json()
    assert agenda["items"] == []


async def test_an_interaction_logged_during_an_erasure_is_refused_and_no_summary_survives(
        app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    customers_app, client = app
    customer = await register(client)
    async with customers_app.state.runtime.db.transaction() as session:
        await erasure.erase_customer(session, customer_id=customer["id"])
        logging_ = asyncio.create_task(client.post(f"/customers/{customer['id']}/interactions",
                                                   json=interaction_body("Budi's home address is ..."),
                                                   headers=MANAGER))
        scheduling = asyncio.create_task(client.post(f"/customers/{customer['id']}/consultations",
                                                     json=consultation_body(), headers=MANAGER))
        await asyncio.sleep(HELD)
    assert_problem(await logging_, 410)
    assert_problem(await scheduling, 410)
    log = (await client.get(f"/customers/{customer['id']}/interactions", headers=MANAGER)).json()["items"]
    assert log == []


async def test_erasing_a_customer_while_it_is_merged_away_points_at_the_survivor(
        app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    customers_app, client = app
    survivor, duplicate = await register(client), await register(client, person(phones=[unique_phone()]))
    async with customers_app.state.runtime.db.transaction() as session:
        await customers.merge_customers(session, survivor_id=survivor["id"], duplicate_id=duplicate["id"])
        erasing = asyncio.create_task(client.post(f"/customers/{duplicate['id']}/erase", headers=SUPPORT))
        await asyncio.sleep(HELD)
        assert not erasing.done()
    assert assert_problem(await erasing, 409)["survivor_id"] == survivor["id"]
    retired = (await client.get(f"/customers/{duplicate['id']}", headers=MANAGER)).json()
    assert (retired["status"], retired["merged_into_id"]) == ("merged", survivor["id"])
    # The e-mail went to the survivor with the merge, and stays known there.
    clash = assert_problem(await client.post("/customers", json=person(emails=duplicate["emails"]), headers=MANAGER),
                           409)
    assert clash["existing_customer_id"] == survivor["id"]


async def test_erasing_the_survivor_while_a_duplicate_is_merged_into_it_erases_the_duplicate_too(
        app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    customers_app, client = app
    survivor = await register(client, person(name="Siti Survivor"))
    duplicate = await register(client, person(name="Dewi Duplicate"))
    async with customers_app.state.runtime.db.transaction() as session:
        await customers.merge_customers(session, survivor_id=survivor["id"], duplicate_id=duplicate["id"])
        erasing = asyncio.create_task(client.post(f"/customers/{survivor['id']}/erase", headers=SUPPORT))
        await asyncio.sleep(HELD)
        assert not erasing.done()
    assert (await erasing).status_code == 200
    retired = (await client.get(f"/customers/{duplicate['id']}", headers=MANAGER)).json()
    assert retired["name"] != "Dewi Duplicate" and retired["emails"] == [] and retired["erased_at"]
    assert (await client.post("/customers", json=person(emails=duplicate["emails"]), headers=MANAGER)).status_code \
        == 201  # the duplicate's identifiers were freed with the survivor's
