"""Erasure leaves no personal data readable: not in the API, not in any table, not in later events.

Each test runs the customers app over a database of its own, so the whole-database search of
``shared.testing.erasure`` sees only this test's customers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.customers.app import create_app
from services.customers.channels import Delivery
from services.customers.tests.conftest import (
    MANAGER,
    SUPPORT,
    EventLog,
    assert_problem,
    register,
    settings_for,
    unique,
    unique_phone,
)
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client
from shared.testing.erasure import PersonalData, assert_erased, find_personal_data

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


class EchoingGateway:
    """A gateway that, like many real ones, echoes the address it delivered to in its answer."""

    async def deliver(self, *, channel: str, customer_id: str, address: str | None, title: str,
                      body: str) -> Delivery:
        return Delivery(ok=True, detail=f"queued for {address}")


@pytest.fixture
async def client(database_url: str, customers_topic: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(database_url, customers_topic), channel_adapter=EchoingGateway(),
                     staff_lookup=AnyEmployee())
    async with app_client(app) as http:
        yield http


def someone(**overrides: Any) -> dict[str, Any]:
    """A person whose every detail is unique to this test, so finding it anywhere means a leak."""
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "kind": "person", "name": f"Citra Lestari {tag}", "emails": [f"citra.{tag}@example.org"],
        "phones": [unique_phone()], "segment": "retail", "source": f"referred by Citra's cousin {tag}",
        "notes": f"Citra {tag} prefers calls after 5pm", "tags": [f"family-{tag}"],
        "address": {"line1": f"Jl. Braga {tag} 7", "line2": f"Blok {tag}", "city": "Bandung",
                    "postal_code": "40111", "country": "ID"},
    }
    body.update(overrides)
    return body


async def touch_everything(client: httpx.AsyncClient, customer: dict[str, Any], typed_phone: str) -> dict[str, str]:
    """Write the customer's data into every free-text field there is; returns the consultation ids."""
    cid, email, street = customer["id"], customer["emails"][0], customer["address"]["line1"]
    await client.put(f"/customers/{cid}/consents", headers=SUPPORT, json={"consents": [
        {"channel": "email", "granted": True, "source": f"form signed by {customer['name']}"}]})
    logged = await client.post(f"/customers/{cid}/interactions", headers=MANAGER, json={
        "channel": "phone", "direction": "in", "summary": f"{customer['name']} called from {typed_phone}",
        "outcome": f"send quote to {email}", "occurred_at": (NOW - timedelta(hours=1)).isoformat()})
    assert logged.status_code == 201, logged.text
    done = await client.post(f"/customers/{cid}/consultations", headers=MANAGER, json={
        "topic": f"Visit {customer['name']}", "employee_id": "emp-1", "due_at": (NOW - timedelta(days=1)).isoformat()})
    completed = await client.post(f"/consultations/{done.json()['id']}/complete", headers=MANAGER,
                                  json={"outcome": f"call back on {typed_phone}"})
    assert completed.status_code == 200, completed.text
    scheduled = await client.post(f"/customers/{cid}/consultations", headers=MANAGER, json={
        "topic": f"Visit at {street}", "employee_id": "emp-2", "due_at": (NOW + timedelta(days=3)).isoformat()})
    assert scheduled.status_code == 201, scheduled.text
    sent = await client.post("/announcements", headers=MANAGER, json={
        "title": "Price list", "body": "New prices", "segments": ["retail"], "channels": ["email"]})
    assert sent.status_code == 201, sent.text
    return {"completed": done.json()["id"], "scheduled": scheduled.json()["id"]}


async def test_erasure_clears_every_free_text_field_and_cancels_what_was_scheduled(
        client: httpx.AsyncClient, database_url: str, event_log: EventLog) -> None:
    typed_phone = unique_phone()
    customer = await register(client, someone(phones=[typed_phone]))
    person = PersonalData.of_customer(customer, also=[typed_phone, *customer["tags"]])
    consultations = await touch_everything(client, customer, typed_phone)
    # Before the erasure the check finds the customer everywhere: it is able to fail.
    before = await find_personal_data(database_url, person, since=NOW - timedelta(days=1))
    assert {f.where.split(",")[0] for f in before} >= {
        "table customer", "table customer_identifier", "table customer_tag", "table interaction",
        "table consultation", "table consent_change", "table announcement_delivery"}

    erased = await client.post(f"/customers/{customer['id']}/erase", headers=SUPPORT)
    assert erased.status_code == 200, erased.text
    assert erased.json()["tags"] == []

    interactions = (await client.get(f"/customers/{customer['id']}/interactions", headers=MANAGER)).json()["items"]
    assert [(i["summary"], i["outcome"]) for i in interactions] == [("[erased]", None)]
    agenda = (await client.get("/consultations", params={"customer_id": customer["id"]}, headers=MANAGER)).json()
    by_id = {c["id"]: c for c in agenda["items"]}
    assert {c["topic"] for c in by_id.values()} == {"[erased]"}
    assert all(c["outcome"] is None for c in by_id.values())
    assert by_id[consultations["completed"]]["status"] == "completed"
    cancelled = by_id[consultations["scheduled"]]
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "customer_erased")
    assert cancelled["cancelled_at"] is not None
    history = (await client.get(f"/customers/{customer['id']}/consents", headers=MANAGER)).json()["history"]
    assert [(h["channel"], h["granted"], h["source"]) for h in history] == [("email", True, "[erased]")]

    event = (await event_log.wait_type("customers.consultation.cancelled",
                                       consultation_id=consultations["scheduled"]))[0]
    assert event.key == customer["id"]
    assert (event.payload["reason"], event.payload["employee_id"]) == ("customer_erased", "emp-2")
    await event_log.wait_type("customers.customer.erased", customer_id=customer["id"])
    await assert_erased(database_url, person, since=erased.json()["erased_at"], events=event_log.records)


async def test_erasing_a_survivor_clears_what_its_merged_duplicates_brought(
        client: httpx.AsyncClient, database_url: str, event_log: EventLog) -> None:
    survivor = await register(client, someone())
    typed_phone = unique_phone()
    duplicate = await register(client, someone(phones=[typed_phone], emails=[f"dup.{unique()}@example.org"]))
    consultations = await touch_everything(client, duplicate, typed_phone)
    merged = await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]},
                               headers=MANAGER)
    assert merged.status_code == 200, merged.text

    erased = await client.post(f"/customers/{survivor['id']}/erase", headers=SUPPORT)
    assert erased.status_code == 200, erased.text
    await event_log.wait_type("customers.consultation.cancelled", consultation_id=consultations["scheduled"])
    await event_log.wait_type("customers.customer.erased", customer_id=duplicate["id"])
    for customer, also in ((survivor, survivor["tags"]), (duplicate, [typed_phone, *duplicate["tags"]])):
        await assert_erased(database_url, PersonalData.of_customer(customer, also=also),
                            since=erased.json()["erased_at"], events=event_log.records)


async def test_a_cancelled_consultation_cannot_be_completed(client: httpx.AsyncClient) -> None:
    customer = await register(client, someone())
    scheduled = await client.post(f"/customers/{customer['id']}/consultations", headers=MANAGER, json={
        "topic": "paper samples", "employee_id": "emp-3", "due_at": (NOW + timedelta(days=1)).isoformat()})
    assert (await client.post(f"/customers/{customer['id']}/erase", headers=SUPPORT)).status_code == 200
    problem = assert_problem(await client.post(f"/consultations/{scheduled.json()['id']}/complete",
                                               json={"outcome": "done"}, headers=MANAGER), 409)
    assert problem["cancel_reason"] == "customer_erased"
    listed = await client.get("/consultations", params={"status": "cancelled", "customer_id": customer["id"]},
                              headers=MANAGER)
    assert [c["id"] for c in listed.json()["items"]] == [scheduled.json()["id"]]
