"""Fixtures of the feedback tests: the app over a real PostgreSQL database and the real broker.

One app (and database) per test module; tests stay independent by using customers, orders and
cases of their own (``unique``). The owners (customers and orders services) are replaced by
``FakeOwners`` (the HTTP fallback's port) unless a test feeds the replicas with real events.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.feedback.app import create_app
from services.feedback.config import FeedbackSettings
from services.feedback.directory import CustomerFacts, OrderFacts, ProductFacts
from shared.bus.kafka import ensure_topics
from shared.events.envelope import EventEnvelope
from shared.events.registry import dead_letter_topic, service_topic
from shared.http.errors import DependencyUnavailable
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client, bearer
from shared.testing.events import EventLog, recorded

TOPIC = service_topic("feedback")
CUSTOMERS_TOPIC = service_topic("customers")
ORDERS_TOPIC = service_topic("orders")
INCENTIVES_TOPIC = service_topic("incentives")
PROBLEM_JSON = "application/problem+json"

MANAGER = bearer("manager", subject="mgr-1")
SUPPORT = bearer("support", subject="sup-1")
ANALYST = bearer("analyst", subject="ana-1")
SERVICE = bearer("service", subject="svc-1")
ADMIN = bearer("admin", subject="adm-1")

ALWAYS = {day: [{"start": "00:00", "end": "24:00"}] for day in
          ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


class FakeOwners:
    """Stands in for the customers and orders services: answers from dicts, counts the questions."""

    def __init__(self) -> None:
        self.customers: dict[str, CustomerFacts] = {}
        self.orders: dict[str, OrderFacts] = {}
        self.products: dict[str, ProductFacts] = {}
        self.down = False
        self.calls: list[str] = []

    def customer_(self, customer_id: str | None = None, *, status: str = "active", segment: str | None = "retail",
                  merged_into_id: str | None = None) -> str:
        customer_id = customer_id or str(uuid.uuid4())
        self.customers[customer_id] = CustomerFacts(customer_id=customer_id, status=status,  # type: ignore[arg-type]
                                                    segment=segment, merged_into_id=merged_into_id,
                                                    observed_at=datetime.now(UTC))
        return customer_id

    def order_(self, customer_id: str, *products: str) -> str:
        order_id = unique("ord-")
        products = products or (unique("prd-"),)
        self.orders[order_id] = OrderFacts(order_id=order_id, customer_id=customer_id, status="paid",
                                           lines=[{"line_no": n, "product_id": p} for n, p in enumerate(products, 1)],
                                           observed_at=datetime.now(UTC))
        for product_id in products:
            self.product_(product_id)
        return order_id

    def product_(self, product_id: str | None = None) -> str:
        product_id = product_id or unique("prd-")
        self.products[product_id] = ProductFacts(product_id=product_id, name="Kertas HVS A4", category="paper",
                                                 active=True, observed_at=datetime.now(UTC))
        return product_id

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise DependencyUnavailable(f"the owner could not confirm {what}", dependency="fake")

    async def customer(self, customer_id: str) -> CustomerFacts | None:
        self._check(customer_id)
        return self.customers.get(customer_id)

    async def order(self, order_id: str) -> OrderFacts | None:
        self._check(order_id)
        return self.orders.get(order_id)

    async def product(self, product_id: str) -> ProductFacts | None:
        self._check(product_id)
        return self.products.get(product_id)


def settings_for(database_url: str, kafka_bootstrap: str, **overrides: Any) -> FeedbackSettings:
    values: dict[str, Any] = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap,
                              "relay_idle_seconds": 0.2, "consumer_backoff_seconds": 0.1,
                              "breach_check_max_seconds": 2.0, **overrides}
    return FeedbackSettings(**values)


@pytest.fixture(scope="session")
async def topics(kafka_bootstrap: str) -> str:
    names = [TOPIC, CUSTOMERS_TOPIC, ORDERS_TOPIC, INCENTIVES_TOPIC]
    await ensure_topics(kafka_bootstrap, names + [dead_letter_topic(t) for t in names])
    return kafka_bootstrap


@pytest.fixture(scope="module")
def owners() -> FakeOwners:
    return FakeOwners()


@pytest.fixture(scope="module")
async def client(module_database_url: str, topics: str, owners: FakeOwners) -> AsyncIterator[httpx.AsyncClient]:
    """The feedback app of this module: migrated, relay, consumers and breach detector running."""
    app = create_app(settings_for(module_database_url, topics), owner_directory=owners, staff_lookup=AnyEmployee())
    async with app_client(app) as http:
        yield http


@pytest.fixture(scope="session")
async def event_log(topics: str) -> AsyncIterator[EventLog]:
    async with recorded(topics, TOPIC) as log:
        yield log


@pytest.fixture(scope="session")
async def producer(topics: str) -> AsyncIterator[AIOKafkaProducer]:
    """Publishes envelopes to the real topics, the way the owning services' relays do (keyed, acks=all)."""
    kafka = AIOKafkaProducer(bootstrap_servers=topics, acks="all", enable_idempotence=True)
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def publish(producer: AIOKafkaProducer, topic: str, envelope: EventEnvelope) -> None:
    await producer.send_and_wait(topic, envelope.to_bytes(), key=envelope.key.encode(),
                                 headers=[("event-type", envelope.type.encode()),
                                          ("event-id", str(envelope.event_id).encode())])


def envelope(event_type: str, payload: dict[str, Any], *, key: str, at: datetime | None = None,
             customer_id: str | None = None) -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), type=event_type, version=1, occurred_at=at or datetime.now(UTC),
                         producer=event_type.split(".")[0], aggregate_id=key, customer_id=customer_id,
                         correlation_id=str(uuid.uuid4()), payload=payload)


# ----- building blocks ---------------------------------------------------------------------------

def case_body(customer_id: str, **overrides: Any) -> dict[str, Any]:
    return {"kind": "complaint", "customer_id": customer_id, "channel": "phone",
            "subject": "Kertas basah saat diterima", "body": "The A4 paper arrived wet; two reams are unusable.",
            **overrides}


async def open_case(client: httpx.AsyncClient, customer_id: str, headers: dict[str, str] | None = None,
                    **overrides: Any) -> dict[str, Any]:
    response = await client.post("/cases", json=case_body(customer_id, **overrides), headers=headers or SUPPORT)
    assert response.status_code == 201, response.text
    return response.json()


async def command(client: httpx.AsyncClient, case_id: str, name: str, body: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None, expect: int = 200) -> dict[str, Any]:
    response = await client.post(f"/cases/{case_id}/{name}", json=body, headers=headers or SUPPORT)
    assert response.status_code == expect, response.text
    return response.json()


async def reply(client: httpx.AsyncClient, case_id: str, kind: str = "reply", **extra: Any) -> dict[str, Any]:
    body = {"kind": kind, "body": "Kami sedang memeriksa pesanan Anda.",
            **({} if kind == "note" else {"channel": "email"}), **extra}
    return await command(client, case_id, "responses", body, expect=201)


async def resolve(client: httpx.AsyncClient, case_id: str, **extra: Any) -> dict[str, Any]:
    body = {"outcome": "upheld", "text": "Two reams replaced at no cost.", "compensation": "replacement",
            "compensation_amount": "95000.00", **extra}
    return await command(client, case_id, "resolve", body)


async def get_case(client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    response = await client.get(f"/cases/{case_id}", headers=SUPPORT)
    assert response.status_code == 200, response.text
    return response.json()
