"""Fixtures of the orders tests: the app over a real PostgreSQL database and the real broker.

One app (and database) per test module keeps the suite fast; tests stay independent by using
customers and products of their own (``unique``) and never depend on what other tests wrote.
Tests that need an empty database (the loyalty program is per database) build their own app.

The customers service is replaced by ``FakeDirectory`` (the HTTP fallback's port) unless a test
runs the real customers service, as ``test_with_customers_service`` does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.orders.app import create_app
from services.orders.config import OrdersSettings
from services.orders.customers_client import CustomerFacts
from shared.bus.kafka import ensure_topics
from shared.events.registry import dead_letter_topic, service_topic
from shared.http.errors import DependencyUnavailable
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client, bearer
from shared.testing.events import EventLog, recorded

TOPIC = service_topic("orders")
CUSTOMERS_TOPIC = service_topic("customers")
PROBLEM_JSON = "application/problem+json"

MANAGER = bearer("manager", subject="mgr-1")
SUPPORT = bearer("support", subject="sup-1")
ANALYST = bearer("analyst", subject="ana-1")
SERVICE = bearer("service", subject="svc-1")
ADMIN = bearer("admin", subject="adm-1")

TIERS = [
    {"name": "base", "threshold": "0", "discount_percent": "0"},
    {"name": "silver", "threshold": "1000.00", "discount_percent": "5"},
    {"name": "gold", "threshold": "5000.00", "discount_percent": "12.5"},
]


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


class FakeDirectory:
    """Stands in for the customers service: answers from a dict, counts the questions."""

    def __init__(self) -> None:
        self.customers: dict[str, CustomerFacts] = {}
        self.down = False
        self.calls: list[str] = []

    def add(self, customer_id: str | None = None, *, status: str = "active",
            merged_into_id: str | None = None) -> str:
        customer_id = customer_id or str(uuid.uuid4())
        self.customers[customer_id] = CustomerFacts(
            customer_id=customer_id, status=status, kind="company", name="PT Kertas Jaya",  # type: ignore[arg-type]
            segment="wholesale", manager_id="emp-1", merged_into_id=merged_into_id, observed_at=datetime.now(UTC))
        return customer_id

    async def lookup(self, customer_id: str) -> CustomerFacts | None:
        self.calls.append(customer_id)
        if self.down:
            raise DependencyUnavailable("the customers service could not confirm the customer",
                                        customer_id=customer_id, dependency="customers")
        return self.customers.get(customer_id)


def settings_for(database_url: str, kafka_bootstrap: str, **overrides: Any) -> OrdersSettings:
    values: dict[str, Any] = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap,
                              "relay_idle_seconds": 0.2, "consumer_backoff_seconds": 0.1, **overrides}
    return OrdersSettings(**values)


@pytest.fixture(scope="session")
async def topics(kafka_bootstrap: str) -> str:
    names = [TOPIC, CUSTOMERS_TOPIC]
    await ensure_topics(kafka_bootstrap, names + [dead_letter_topic(t) for t in names])
    return kafka_bootstrap


@pytest.fixture(scope="module")
def directory() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture(scope="module")
async def client(module_database_url: str, topics: str, directory: FakeDirectory) -> AsyncIterator[httpx.AsyncClient]:
    """The orders app of this module: migrated, relay and consumer running, talking ASGI."""
    app = create_app(settings_for(module_database_url, topics), customer_directory=directory,
                     staff_lookup=AnyEmployee())
    async with app_client(app) as http:
        yield http


# ----- building blocks ---------------------------------------------------------------------------

async def create_product(client: httpx.AsyncClient, *, price: str = "100.00", cost: str = "60.00",
                         **overrides: Any) -> dict[str, Any]:
    body = {"sku": unique("SKU-"), "name": "Kertas HVS A4 80gsm", "category": "paper", "unit_price": price,
            "unit_cost": cost, **overrides}
    response = await client.post("/products", json=body, headers=MANAGER)
    assert response.status_code == 201, response.text
    return response.json()


def order_body(customer_id: str, *lines: tuple[dict[str, Any] | str, int], **overrides: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "channel": "store", "sales_employee_id": "emp-7",
            "lines": [{"product_id": p if isinstance(p, str) else p["id"], "quantity": q} for p, q in lines],
            **overrides}


async def place(client: httpx.AsyncClient, customer_id: str, *lines: tuple[dict[str, Any] | str, int],
                headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/orders", json=order_body(customer_id, *lines, **overrides),
                                 headers=headers or MANAGER)
    assert response.status_code == 201, response.text
    return response.json()


async def pay(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    response = await client.post(f"/orders/{order_id}/pay", json={"method": "bank_transfer"}, headers=MANAGER)
    assert response.status_code == 200, response.text
    return response.json()


async def put_program(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.put("/loyalty/program", json={"tiers": TIERS, **overrides}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def loyalty_of(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await client.get(f"/loyalty/customers/{customer_id}", headers=ANALYST)
    assert response.status_code == 200, response.text
    return response.json()


async def ledger_of(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/loyalty/customers/{customer_id}/ledger", params=params, headers=ANALYST)
        assert response.status_code == 200, response.text
        entries += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return entries


def money(value: str | Decimal) -> Decimal:
    return Decimal(value)


# ----- reading what was published ----------------------------------------------------------

@pytest.fixture(scope="session")
async def event_log(topics: str) -> AsyncIterator[EventLog]:
    async with recorded(topics, TOPIC) as log:
        yield log
