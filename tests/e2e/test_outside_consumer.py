"""The topics as an outside consumer reads them: kcat (librdkafka) reads every topic of the running system,
every record validates against the AsyncAPI document, keys map to partitions by murmur2, and after an
erasure nothing of the erased customer's personal data is readable in any topic, whatever was written
before (events carry no personal data: version 2 of the contracts)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import murmur2
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared.events.asyncapi import build_asyncapi
from tests.e2e.conftest import ADMIN, RunningSystem, eventually

pytestmark = pytest.mark.integration


def kcat_records(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` as kcat prints it (-J: one JSON object per record)."""
    assert shutil.which("kcat"), "Debian's kcat is needed (apt-get install kcat)"
    result = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q",
                             "-X", "broker.address.family=v4"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _headers(record: dict[str, Any]) -> dict[str, str]:
    flat = record.get("headers") or []
    return dict(zip(flat[0::2], flat[1::2], strict=True))


async def _drained(client: httpx.AsyncClient, system: RunningSystem) -> bool:
    for name in system.services:
        body = (await client.get(f"/{name}/readyz")).json()
        if (body["checks"].get("outbox") or {}).get("backlog") not in (0, None):
            return False
    return True


async def test_an_outside_consumer_reads_valid_events_and_no_erased_personal_data(
        gateway: httpx.AsyncClient, running_system: RunningSystem) -> None:
    tag = uuid.uuid4().hex[:8]
    name, email, phone = f"Dewi Anggraini {tag}", f"dewi.{tag}@example.org", f"0812{int(tag, 16) % 10**8:08d}"
    street = f"Jl. Melati {tag} No. 7"
    employee = await gateway.post("/incentives/employees", headers=ADMIN, json={
        "name": "Budi Santoso", "role": "account_manager", "hired_on": "2025-01-06", "email": "budi@kertas.example"})
    assert employee.status_code == 201, employee.text
    manager_id = employee.json()["id"]
    registered = await gateway.post("/customers/customers", headers=ADMIN, json={
        "kind": "person", "name": name, "emails": [email], "phones": [phone], "segment": "individuals",
        "address": {"line1": street, "city": "Bandung", "country": "ID"}, "tags": [f"vip-{tag}"],
        "source": f"referred by {name}", "notes": f"call {phone} after 5pm"})
    assert registered.status_code == 201, registered.text
    customer = registered.json()["id"]
    for call in (
        gateway.put(f"/customers/customers/{customer}/consents", headers=ADMIN, json={
            "consents": [{"channel": "email", "granted": True, "source": f"form signed by {name}"}],
            "preferred_channel": "email"}),
        gateway.put(f"/customers/customers/{customer}/manager", headers=ADMIN, json={"employee_id": manager_id}),
        gateway.post(f"/customers/customers/{customer}/interactions", headers=ADMIN, json={
            "channel": "phone", "direction": "in", "summary": f"{name} asked for a quote at {email}",
            "outcome": f"send quote to {email}", "occurred_at": datetime.now(UTC).isoformat()}),
        gateway.post(f"/customers/customers/{customer}/consultations", headers=ADMIN, json={
            "topic": f"Visit {name} at {street}", "employee_id": manager_id,
            "due_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}),
    ):
        response = await call
        assert response.status_code in (200, 201), response.text
    product = await gateway.post("/orders/products", headers=ADMIN, json={
        "sku": f"HVS-{tag}", "name": "Kertas HVS A4 80gsm", "category": "paper", "unit_price": "52000.00",
        "unit_cost": "41000.00"})
    assert product.status_code == 201, product.text

    async def place(note: str) -> str:
        response = await gateway.post("/orders/orders", headers=ADMIN, json={
            "customer_id": customer, "channel": "store", "sales_employee_id": manager_id, "note": note,
            "lines": [{"product_id": product.json()["id"], "quantity": 3}]})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    # The orders replica may not have heard of the customer yet: orders asks the customers service.
    kept, dropped = await place(f"deliver to {street}"), await place(f"for {name}")
    assert (await gateway.post(f"/orders/orders/{kept}/pay", headers=ADMIN,
                               json={"method": "bank_transfer", "reference": f"BCA {name}"})).status_code == 200
    returned = await gateway.post(f"/orders/orders/{kept}/returns", headers=ADMIN, json={
        "lines": [{"product_id": product.json()["id"], "quantity": 1}], "reason": f"{name} says the box was wet"})
    assert returned.status_code == 201, returned.text
    assert (await gateway.post(f"/orders/orders/{dropped}/cancel", headers=ADMIN,
                               json={"reason": f"{name} moved to {street}"})).status_code == 200
    erased = await gateway.post(f"/customers/customers/{customer}/erase", headers=ADMIN)
    assert erased.status_code == 200, erased.text
    await eventually(lambda: _drained(gateway, running_system))

    document = build_asyncapi()
    registry = Registry().with_resource("urn:asyncapi", Resource.from_contents(document,
                                                                             default_specification=DRAFT202012))
    personal = [name, email, phone, phone.lstrip("0"), street, f"vip-{tag}"]
    seen_types: set[str] = set()
    for topic, channel in document["channels"].items():
        partitions = channel["bindings"]["kafka"]["partitions"]
        for record in await asyncio.to_thread(kcat_records, running_system.bootstrap, topic):
            value = record["payload"]
            envelope = json.loads(value)
            name_of_message = f"{envelope['type']}.v{envelope['version']}"
            assert name_of_message in channel["messages"], f"{topic}: undocumented {name_of_message}"
            Draft202012Validator({"$ref": f"urn:asyncapi#/components/messages/{name_of_message}/payload"},
                                 registry=registry).validate(envelope)
            headers = _headers(record)
            assert headers == {"event-type": envelope["type"], "event-id": envelope["event_id"]}
            key = record["key"]
            assert key == (envelope.get("customer_id") or envelope["aggregate_id"])
            assert record["partition"] == (murmur2(key.encode()) & 0x7FFFFFFF) % partitions, record
            for text in personal:
                assert text not in value, f"{text!r} readable in {topic} at offset {record['offset']}"
            seen_types.add(envelope["type"])
    assert {"customers.customer.registered", "customers.interaction.logged", "customers.consultation.scheduled",
            "customers.consultation.cancelled", "customers.customer.erased", "orders.order.paid",
            "orders.order.returned", "orders.order.cancelled", "incentives.employee.hired"} <= seen_types

