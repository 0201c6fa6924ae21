"""Fixtures of the incentives tests: the app over a real PostgreSQL database and the real broker.

One app (and database) per test module; tests stay independent by using employees, products,
orders and periods of their own (``unique``, ``fresh_period``). Each app gets a consumer group of
its own (a unique ``service_name``), so two apps alive at once never split each other's partitions.

Orders' and feedback's events are published here as those services publish them: envelopes of
their registered contracts, keyed by the customer id, on ``orders.events`` / ``feedback.events``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.incentives.app import create_app
from services.incentives.config import IncentivesSettings
from shared.bus.kafka import ensure_topics, start_producer, stop_quietly
from shared.events.contracts import feedback as feedback_events
from shared.events.contracts import orders as order_events
from shared.events.registry import dead_letter_topic, service_topic
from shared.testing.apps import app_client, bearer
from shared.testing.events import Bus, EventLog, recorded

TOPIC = service_topic("incentives")
ORDERS_TOPIC = service_topic("orders")
FEEDBACK_TOPIC = service_topic("feedback")
PROBLEM_JSON = "application/problem+json"

MANAGER = bearer("manager", subject="head-of-sales")
SUPPORT = bearer("support", subject="sup-1")
ANALYST = bearer("analyst", subject="ana-1")
SERVICE = bearer("service", subject="svc-1")
ADMIN = bearer("admin", subject="adm-1")

_years = itertools.count(2101)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def fresh_year() -> int:
    """A year no other test of the session uses (periods are company-wide)."""
    return next(_years) + (uuid.uuid4().int % 50) * 100


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


def settings_for(database_url: str, kafka_bootstrap: str, **overrides: Any) -> IncentivesSettings:
    values: dict[str, Any] = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap,
                              "service_name": f"incentives-test-{uuid.uuid4().hex[:8]}",
                              "relay_idle_seconds": 0.2, "consumer_backoff_seconds": 0.1, **overrides}
    return IncentivesSettings(**values)


@pytest.fixture(scope="session")
async def topics(kafka_bootstrap: str) -> str:
    names = [TOPIC, ORDERS_TOPIC, FEEDBACK_TOPIC]
    await ensure_topics(kafka_bootstrap, names + [dead_letter_topic(t) for t in names])
    return kafka_bootstrap


@pytest.fixture(scope="module")
async def client(module_database_url: str, topics: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(module_database_url, topics))
    async with app_client(app) as http:
        yield http


@pytest.fixture(scope="session")
async def event_log(topics: str) -> AsyncIterator[EventLog]:
    async with recorded(topics, TOPIC) as log:
        yield log


# ----- publishing other services' events ---------------------------------------------------------

@pytest.fixture(scope="session")
async def bus(topics: str) -> AsyncIterator[Bus]:
    producer = await start_producer(topics, client_id="incentives-tests")
    try:
        yield Bus(producer)
    finally:
        await stop_quietly(producer)


def _amounts(net: str) -> dict[str, str]:
    return {"gross": net, "discount": "0.00", "net": net, "cost": "0.00", "margin": net}


def order_line(line_no: int, product_id: str, net: str, *, category: str = "printers", quantity: int = 1,
               returned_quantity: int = 0) -> order_events.OrderLineV1:
    unit = str(Decimal(net) / quantity)
    return order_events.OrderLineV1(line_no=line_no, product_id=product_id, sku=f"SKU-{product_id[:8]}",
                                    name="Printer", category=category, quantity=quantity, unit_price=unit,
                                    unit_cost="0", discount_percent="0", returned_quantity=returned_quantity,
                                    **_amounts(net))


def _order_fields(order_id: str, customer_id: str, employee_id: str, lines: list[order_events.OrderLineV1],
                  status: str, placed_at: datetime, currency: str = "IDR") -> dict[str, Any]:
    total = sum((line.net for line in lines), Decimal("0"))
    return {"order_id": order_id, "customer_id": customer_id, "sales_employee_id": employee_id, "channel": "store",
            "currency": currency, "status": status, "loyalty_tier": None, "discount_percent": "0", "lines": lines,
            "placed_at": placed_at, **_amounts(f"{total:.2f}")}


def paid_event(order_id: str, customer_id: str, employee_id: str, lines: list[order_events.OrderLineV1],
               paid_at: datetime, currency: str = "IDR") -> order_events.OrderPaidV1:
    return order_events.OrderPaidV1(**_order_fields(order_id, customer_id, employee_id, lines, "paid", paid_at,
                                                    currency),
                                    paid_at=paid_at, payment_method="cash", payment_reference=None)


def cancelled_event(order_id: str, customer_id: str, employee_id: str, lines: list[order_events.OrderLineV1],
                    cancelled_at: datetime, placed_at: datetime, reversed_net: str,
                    was_paid: bool = True) -> order_events.OrderCancelledV1:
    return order_events.OrderCancelledV1(
        **_order_fields(order_id, customer_id, employee_id, lines, "cancelled", placed_at),
        cancelled_at=cancelled_at, reason="customer changed their mind", was_paid=was_paid,
        reversed=order_events.Amounts(**_amounts(reversed_net)))


def returned_event(order_id: str, customer_id: str, employee_id: str, return_id: str,
                   lines: list[tuple[int, str, str]], returned_at: datetime, order_paid_at: datetime,
                   category: str = "printers") -> order_events.OrderReturnedV1:
    returned = [order_events.ReturnedLineV1(line_no=n, product_id=p, sku="SKU", category=category, quantity=1,
                                            **_amounts(net)) for n, p, net in lines]
    total = sum((Decimal(net) for _n, _p, net in lines), Decimal("0"))
    return order_events.OrderReturnedV1(
        return_id=return_id, order_id=order_id, customer_id=customer_id, sales_employee_id=employee_id,
        channel="store", currency="IDR", reason=None, lines=returned, returned_at=returned_at,
        order_paid_at=order_paid_at, fully_returned=False, **_amounts(f"{total:.2f}"))


def product_event(product_id: str, category: str = "printers", *, name: str = "Laser printer",
                  at: datetime | None = None) -> order_events.ProductCreatedV1:
    return order_events.ProductCreatedV1(product_id=product_id, sku=f"SKU-{product_id[:12]}", name=name,
                                         category=category, unit_price="1000000", unit_cost="600000",
                                         currency="IDR", active=True,
                                         price_effective_at=at or datetime.now().astimezone())


def case_facts(case_id: str, customer_id: str, employee_id: str | None, *, kind: str = "complaint",
               assignee_id: str | None = None, status: str = "new") -> dict[str, Any]:
    return {"case_id": case_id, "case_number": f"C-{case_id[:6]}", "kind": kind, "customer_id": customer_id,
            "order_id": None, "product_id": None, "category_id": None, "category_path": [], "priority": "normal",
            "channel": "phone", "status": status, "assignee_id": assignee_id, "employee_id": employee_id}


def case_received(case_id: str, customer_id: str, employee_id: str | None, received_at: datetime, *,
                  kind: str = "complaint", assignee_id: str | None = None) -> feedback_events.CaseReceivedV1:
    return feedback_events.CaseReceivedV1(**case_facts(case_id, customer_id, employee_id, kind=kind,
                                                       assignee_id=assignee_id),
                                          line_nos=[], sla_policy_version=1, first_response_due_at=None,
                                          resolution_due_at=None, received_at=received_at)


# ----- the service's API ----------------------------------------------------------------------

async def hire(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Ayu Lestari", "role": "sales", "team": "jakarta-1", "hired_on": "2024-01-10",
            "email": f"{unique('ayu')}@pelanggan.example", **overrides}
    response = await client.post("/employees", json=body, headers=MANAGER)
    assert response.status_code == 201, response.text
    return response.json()


async def contributions(client: httpx.AsyncClient, period: str) -> dict[str, Any]:
    response = await client.get(f"/periods/{period}/contributions", headers=ANALYST)
    assert response.status_code == 200, response.text
    return response.json()


def row_of(report: dict[str, Any], employee_id: str) -> dict[str, Any] | None:
    return next((r for r in report["employees"] if r["employee_id"] == employee_id), None)


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0) -> Any:
    """Retries ``check`` (an async function that raises AssertionError until it holds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
