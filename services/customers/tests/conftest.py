"""Fixtures of the customers tests: the app over a real PostgreSQL database and the real broker.

One app (and database) per test module keeps the suite fast; tests stay independent by using
unique e-mails, tags and segments (``unique``) and never depend on what other tests wrote.
Tests that need an empty database build their own app over ``database_url``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.customers.app import create_app
from services.customers.config import CustomersSettings
from shared.bus.kafka import ensure_topics
from shared.events.registry import dead_letter_topic, service_topic
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client, bearer
from shared.testing.events import Bus, EventLog, bus_for, recorded

TOPIC = service_topic("customers")
# What the service consumes: orders' sales, incentives' locomotive flags, analytics' at-risk news.
CONSUMED = [service_topic(name) for name in ("orders", "incentives", "analytics")]
PROBLEM_JSON = "application/problem+json"

MANAGER = bearer("manager", subject="mgr-1")
SUPPORT = bearer("support", subject="sup-1")
ANALYST = bearer("analyst", subject="ana-1")
SERVICE = bearer("service", subject="svc-1")
ADMIN = bearer("admin", subject="adm-1")


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def unique_email(prefix: str = "c") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}@example.com"


_phone_counter = iter(range(10_000_000))


def unique_phone() -> str:
    """A valid Indonesian mobile number nobody else in this session uses (national format)."""
    # 0812 + 8 digits: Telkomsel mobile numbers, valid for libphonenumber.
    n = (int(time.time() * 1000) % 10_000) * 10_000 + next(_phone_counter) % 10_000
    return f"0812{n:08d}"


def person(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "person", "name": "Ana Wijaya", "emails": [unique_email()]}
    body.update(overrides)
    return body


def company(**overrides: Any) -> dict[str, Any]:
    digits = f"{uuid.uuid4().int % 10**15:015d}"
    body: dict[str, Any] = {
        "kind": "company", "name": "PT Kertas Jaya", "emails": [unique_email("co")],
        "tax_id": f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{digits[9:12]}.{digits[12:]}",
    }
    body.update(overrides)
    return body


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def register(client: httpx.AsyncClient, body: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await client.post("/customers", json=body or person(), headers=headers or MANAGER)
    assert response.status_code == 201, response.text
    return response.json()


async def grant(client: httpx.AsyncClient, customer_id: str, *channels: str,
                preferred: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"consents": [{"channel": c, "granted": True, "source": "signed form"} for c in channels]}
    if preferred:
        body["preferred_channel"] = preferred
    response = await client.put(f"/customers/{customer_id}/consents", json=body, headers=SUPPORT)
    assert response.status_code == 200, response.text
    return response.json()


def settings_for(database_url: str, kafka_bootstrap: str, **overrides: Any) -> CustomersSettings:
    return CustomersSettings(database_url=database_url, kafka_bootstrap=kafka_bootstrap,
                             relay_idle_seconds=0.2, **overrides)


@pytest.fixture(scope="session")
async def customers_topic(kafka_bootstrap: str) -> str:
    topics = [TOPIC, *CONSUMED]
    await ensure_topics(kafka_bootstrap, topics + [dead_letter_topic(t) for t in topics])
    return kafka_bootstrap


@pytest.fixture(scope="session")
async def bus(customers_topic: str) -> AsyncIterator[Bus]:
    """Publishes other services' events into their topics."""
    async with bus_for(customers_topic, client_id="customers-tests") as publisher:
        yield publisher


@pytest.fixture(scope="module")
async def client(module_database_url: str, customers_topic: str) -> AsyncIterator[httpx.AsyncClient]:
    """The customers app of this module: migrated, relay running, talking ASGI."""
    app = create_app(settings_for(module_database_url, customers_topic), staff_lookup=AnyEmployee())
    async with app_client(app) as http:
        yield http


@pytest.fixture
async def fresh_client(database_url: str, customers_topic: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app over an empty database of this test's own."""
    app = create_app(settings_for(database_url, customers_topic), staff_lookup=AnyEmployee())
    async with app_client(app) as http:
        yield http


# ----- reading what was published ----------------------------------------------------------

@pytest.fixture(scope="session")
async def event_log(customers_topic: str) -> AsyncIterator[EventLog]:
    async with recorded(customers_topic, TOPIC) as log:
        yield log
