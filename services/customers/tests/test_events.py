"""What the customers service publishes on ``customers.events``: type, version, key, correlation id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.customers.tests.conftest import (
    MANAGER,
    SUPPORT,
    TOPIC,
    EventLog,
    person,
    register,
    unique,
    unique_phone,
)
from shared.events.envelope import EventEnvelope
from shared.events.registry import contract_for, registered_contracts
from shared.testing.events import Published

pytestmark = pytest.mark.integration


def request_id() -> str:
    return f"req-{uuid.uuid4()}"


def traced(headers: dict[str, str], rid: str) -> dict[str, str]:
    return {**headers, "X-Request-ID": rid}


def current_version(event_type: str) -> int:
    """The version the service publishes: the newest registered."""
    return max(version for known, version in registered_contracts() if known == event_type)


async def published(event_log: EventLog, *, rid: str, event_type: str, count: int = 1,
                    version: int | None = None) -> list[Published]:
    """The events one request caused (found by its correlation id), checked against their contract."""
    version = version or current_version(event_type)
    found = await event_log.wait_for(
        lambda r: r.envelope.get("correlation_id") == rid and r.type == event_type, count=count)
    for record in found:
        envelope = EventEnvelope.model_validate(record.envelope)
        assert envelope.producer == "customers"
        assert envelope.version == version
        assert record.headers["event-type"] == event_type
        assert record.headers["event-id"] == str(envelope.event_id)
        contract = contract_for(envelope.type, envelope.version)
        assert contract is not None, envelope.type
        contract.model_validate(envelope.payload)
    return found


def only(records: list[Published]) -> Published:
    assert len(records) == 1, records
    return records[0]


async def test_every_customer_event_is_a_registered_contract() -> None:
    types = {t for t, _ in registered_contracts() if t.startswith("customers.")}
    assert types == {
        "customers.customer.registered", "customers.customer.updated", "customers.customer.merged",
        "customers.customer.erased", "customers.consent.changed", "customers.manager.assigned",
        "customers.interaction.logged", "customers.consultation.scheduled", "customers.consultation.completed",
        "customers.consultation.cancelled", "customers.announcement.dispatched", "customers.announcement.delivered"}


async def test_registering_publishes_customer_registered(client: httpx.AsyncClient, event_log: EventLog) -> None:
    rid = request_id()
    response = await client.post("/customers", json=person(segment="Retail", tags=["vip"], source="fair",
                                                           first_contact_channel="phone"),
                                 headers=traced(MANAGER, rid))
    assert response.status_code == 201
    assert response.headers["x-request-id"] == rid
    customer = response.json()
    event = only(await published(event_log, rid=rid, event_type="customers.customer.registered"))
    assert event.key == customer["id"]
    assert event.envelope["aggregate_id"] == customer["id"] and event.envelope["customer_id"] == customer["id"]
    payload = event.envelope["payload"]
    assert payload["customer_id"] == customer["id"]
    assert (payload["segment"], payload["first_contact_channel"]) == ("retail", "phone")
    assert payload["status"] == "active"
    # Personal data stays in this service (topics outlive an erasure): no name, contact, tag or free text.
    assert not {"name", "tags", "source", "emails", "phones"} & set(payload)
    for personal in (customer["name"], customer["emails"][0], "vip", "fair"):
        assert personal not in str(event.envelope)


async def test_a_refused_registration_publishes_nothing(client: httpx.AsyncClient, event_log: EventLog) -> None:
    customer = await register(client)
    rid = request_id()
    response = await client.post("/customers", json=person(emails=customer["emails"]), headers=traced(MANAGER, rid))
    assert response.status_code == 409
    await event_log.settle()
    assert [r for r in event_log.records if r.envelope.get("correlation_id") == rid] == []


async def test_updating_publishes_customer_updated_with_the_changed_fields(
        client: httpx.AsyncClient, event_log: EventLog) -> None:
    customer = await register(client)
    rid = request_id()
    response = await client.patch(f"/customers/{customer['id']}", json={"name": "New Name", "segment": "schools",
                                                                        "phones": [unique_phone()]},
                                  headers=traced(SUPPORT, rid))
    assert response.status_code == 200
    event = only(await published(event_log, rid=rid, event_type="customers.customer.updated"))
    assert event.key == customer["id"]
    assert event.envelope["payload"]["changed_fields"] == ["name", "phones", "segment"]
    assert event.envelope["payload"]["segment"] == "schools"
    assert "New Name" not in str(event.envelope)

    # A patch that changes nothing publishes nothing.
    same = request_id()
    response = await client.patch(f"/customers/{customer['id']}", json={"name": "New Name"},
                                  headers=traced(SUPPORT, same))
    assert response.status_code == 200
    await event_log.settle()
    assert [r for r in event_log.records if r.envelope.get("correlation_id") == same] == []


async def test_consent_changes_publish_one_event_per_changed_channel(
        client: httpx.AsyncClient, event_log: EventLog) -> None:
    customer = await register(client)
    rid = request_id()
    response = await client.put(f"/customers/{customer['id']}/consents", headers=traced(SUPPORT, rid), json={
        "consents": [{"channel": "email", "granted": True, "source": "form"},
                     {"channel": "sms", "granted": False, "source": "form"}],
        "preferred_channel": "email"})
    assert response.status_code == 200
    events = await published(event_log, rid=rid, event_type="customers.consent.changed", count=2)
    assert {(e.envelope["payload"]["channel"], e.envelope["payload"]["granted"]) for e in events} == {
        ("email", True), ("sms", False)}
    assert all(e.key == customer["id"] and e.envelope["payload"]["changed_by"] == "sup-1" for e in events)
    preferred = only(await published(event_log, rid=rid, event_type="customers.customer.updated"))
    assert preferred.envelope["payload"]["changed_fields"] == ["preferred_channel"]
    assert preferred.envelope["payload"]["preferred_channel"] == "email"


async def test_assigning_a_manager_publishes_manager_assigned(client: httpx.AsyncClient,
                                                              event_log: EventLog) -> None:
    customer = await register(client)
    first, second = unique("emp-"), unique("emp-")
    await client.put(f"/customers/{customer['id']}/manager", json={"employee_id": first}, headers=MANAGER)
    rid = request_id()
    await client.put(f"/customers/{customer['id']}/manager", json={"employee_id": second},
                     headers=traced(MANAGER, rid))
    event = only(await published(event_log, rid=rid, event_type="customers.manager.assigned"))
    assert event.key == customer["id"]
    payload = event.envelope["payload"]
    assert (payload["employee_id"], payload["previous_employee_id"], payload["assigned_by"]) == (
        second, first, "mgr-1")
    # The customer's revision after the assignment: replicas order it against the snapshots.
    assert payload["revision"] == 3
    assert (await client.get(f"/customers/{customer['id']}", headers=MANAGER)).json()["revision"] == 3


async def test_interactions_and_consultations_publish_keyed_by_the_customer(
        client: httpx.AsyncClient, event_log: EventLog) -> None:
    customer = await register(client)
    now = datetime.now(UTC)
    rid = request_id()
    interaction = (await client.post(f"/customers/{customer['id']}/interactions", headers=traced(SUPPORT, rid),
                                     json={"channel": "messenger", "direction": "out", "summary": "sent catalogue",
                                           "occurred_at": (now - timedelta(minutes=5)).isoformat()})).json()
    event = only(await published(event_log, rid=rid, event_type="customers.interaction.logged"))
    assert event.key == customer["id"]
    assert event.envelope["aggregate_id"] == interaction["id"]
    assert event.envelope["payload"]["interaction_id"] == interaction["id"]
    assert "summary" not in event.envelope["payload"]

    rid = request_id()
    consultation = (await client.post(f"/customers/{customer['id']}/consultations", headers=traced(MANAGER, rid),
                                      json={"topic": "toner", "employee_id": "emp-3", "product_id": "TONER-1",
                                            "due_at": (now + timedelta(days=3)).isoformat()})).json()
    event = only(await published(event_log, rid=rid, event_type="customers.consultation.scheduled"))
    assert event.key == customer["id"] and event.envelope["aggregate_id"] == consultation["id"]
    assert (event.envelope["payload"]["employee_id"], event.envelope["payload"]["product_id"]) == ("emp-3", "TONER-1")

    rid = request_id()
    await client.post(f"/consultations/{consultation['id']}/complete", json={"outcome": "ordered"},
                      headers=traced(MANAGER, rid))
    event = only(await published(event_log, rid=rid, event_type="customers.consultation.completed"))
    assert event.key == customer["id"] and "outcome" not in event.envelope["payload"]
    # A retried completion publishes nothing more.
    retry = request_id()
    await client.post(f"/consultations/{consultation['id']}/complete", json={"outcome": "ordered"},
                      headers=traced(MANAGER, retry))
    await event_log.settle()
    assert [r for r in event_log.records if r.envelope.get("correlation_id") == retry] == []


async def test_an_announcement_publishes_one_dispatched_event(client: httpx.AsyncClient,
                                                              event_log: EventLog) -> None:
    segment = unique("seg")
    customer = await register(client, person(segment=segment))
    await client.put(f"/customers/{customer['id']}/consents", headers=SUPPORT,
                     json={"consents": [{"channel": "email", "granted": True, "source": "form"}]})
    no_address = await register(client, person(segment=segment))  # a leaflet cannot reach them
    await client.put(f"/customers/{no_address['id']}/consents", headers=SUPPORT,
                     json={"consents": [{"channel": "post", "granted": True, "source": "form"}]})
    rid = request_id()
    announcement = (await client.post("/announcements", headers=traced(MANAGER, rid), json={
        "title": "Price list", "body": "b", "segments": [segment], "channels": ["email", "post"]})).json()
    event = only(await published(event_log, rid=rid, event_type="customers.announcement.dispatched", version=2))
    assert event.key == announcement["id"]
    payload = event.envelope["payload"]
    assert (payload["audience_size"], payload["sent"], payload["failed"], payload["deliveries_by_channel"],
            payload["segments"]) == (2, 1, 1, {"email": 1}, [segment])


async def test_merging_publishes_merged_keyed_by_the_duplicate(client: httpx.AsyncClient,
                                                               event_log: EventLog) -> None:
    survivor, duplicate = await register(client), await register(client)
    rid = request_id()
    response = await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]},
                                 headers=traced(MANAGER, rid))
    assert response.status_code == 200
    merged = only(await published(event_log, rid=rid, event_type="customers.customer.merged"))
    assert merged.key == duplicate["id"]
    assert merged.envelope["payload"]["survivor_id"] == survivor["id"]
    assert merged.envelope["payload"]["merged_id"] == duplicate["id"]
    updated = only(await published(event_log, rid=rid, event_type="customers.customer.updated"))
    assert updated.key == survivor["id"]
    assert updated.envelope["payload"]["changed_fields"] == ["merged"]


async def test_erasing_publishes_erased_once(client: httpx.AsyncClient, event_log: EventLog) -> None:
    survivor, duplicate = await register(client), await register(client)
    await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=MANAGER)
    rid = request_id()
    await client.post(f"/customers/{survivor['id']}/erase", headers=traced(SUPPORT, rid))
    events = await published(event_log, rid=rid, event_type="customers.customer.erased", count=2)
    assert {e.key for e in events} == {survivor["id"], duplicate["id"]}
    assert all(e.envelope["payload"]["customer_id"] == e.key for e in events)
    again = request_id()
    await client.post(f"/customers/{survivor['id']}/erase", headers=traced(SUPPORT, again))
    await event_log.settle()
    assert [r for r in event_log.records if r.envelope.get("correlation_id") == again] == []


async def test_one_customers_events_arrive_in_the_order_they_happened(client: httpx.AsyncClient,
                                                                      event_log: EventLog) -> None:
    customer = await register(client)
    cid = customer["id"]
    await client.put(f"/customers/{cid}/consents", headers=SUPPORT,
                     json={"consents": [{"channel": "email", "granted": True, "source": "form"}]})
    await client.put(f"/customers/{cid}/manager", json={"employee_id": "emp-9"}, headers=MANAGER)
    for name in ("A", "B", "C"):
        await client.patch(f"/customers/{cid}", json={"name": name}, headers=MANAGER)
    await client.post(f"/customers/{cid}/erase", headers=SUPPORT)
    expected = ["customers.customer.registered", "customers.consent.changed", "customers.manager.assigned",
                "customers.customer.updated", "customers.customer.updated", "customers.customer.updated",
                "customers.customer.erased"]
    await event_log.wait_for(lambda r: r.key == cid, count=len(expected))
    mine: list[Any] = [r for r in event_log.records if r.key == cid]
    assert [r.type for r in mine] == expected
    revisions = [r.envelope["payload"]["revision"] for r in mine[3:6]]
    assert revisions == sorted(revisions) and len(set(revisions)) == 3
    assert TOPIC == "customers.events"


async def test_snapshots_merges_and_erasures_carry_the_customers_rising_revision(
        client: httpx.AsyncClient, event_log: EventLog) -> None:
    """Replicas order one customer's news by this count, which no producer's clock can skew."""
    rid = request_id()
    survivor = (await client.post("/customers", json=person(), headers=traced(MANAGER, rid))).json()
    assert survivor["revision"] == 1
    registered = only(await published(event_log, rid=rid, event_type="customers.customer.registered"))
    assert registered.envelope["payload"]["revision"] == 1

    rid = request_id()
    renamed = await client.patch(f"/customers/{survivor['id']}", json={"name": "Renamed"}, headers=traced(MANAGER, rid))
    assert renamed.json()["revision"] == 2
    updated = only(await published(event_log, rid=rid, event_type="customers.customer.updated"))
    assert updated.envelope["payload"]["revision"] == 2
    unchanged = await client.patch(f"/customers/{survivor['id']}", json={"name": "Renamed"}, headers=MANAGER)
    assert unchanged.json()["revision"] == 2  # nothing changed, nothing counted

    rid = request_id()
    await client.put(f"/customers/{survivor['id']}/consents", headers=traced(SUPPORT, rid), json={
        "consents": [{"channel": "email", "granted": True, "source": "form"}], "preferred_channel": "email"})
    preferred = only(await published(event_log, rid=rid, event_type="customers.customer.updated"))
    assert preferred.envelope["payload"]["revision"] == 3
    managed = await client.put(f"/customers/{survivor['id']}/manager", json={"employee_id": unique("emp-")},
                               headers=MANAGER)
    assert managed.status_code == 200
    assert (await client.get(f"/customers/{survivor['id']}", headers=MANAGER)).json()["revision"] == 4

    duplicate = await register(client)
    rid = request_id()
    merged = await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]},
                               headers=traced(MANAGER, rid))
    assert merged.json()["revision"] == 5
    merged_event = only(await published(event_log, rid=rid, event_type="customers.customer.merged"))
    assert merged_event.envelope["payload"]["revision"] == 2  # the duplicate's own count
    survivor_event = only(await published(event_log, rid=rid, event_type="customers.customer.updated"))
    assert survivor_event.envelope["payload"]["revision"] == 5

    rid = request_id()
    erased = await client.post(f"/customers/{survivor['id']}/erase", headers=traced(SUPPORT, rid))
    assert erased.json()["revision"] == 6
    events = await published(event_log, rid=rid, event_type="customers.customer.erased", count=2)
    assert {e.key: e.envelope["payload"]["revision"] for e in events} == {survivor["id"]: 6, duplicate["id"]: 3}
    assert (await client.get(f"/customers/{duplicate['id']}", headers=MANAGER)).json()["revision"] == 3
