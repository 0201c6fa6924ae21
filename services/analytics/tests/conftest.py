"""Fixtures of the analytics tests: the app over a real PostgreSQL database and the real broker,
fed with envelopes the tests publish themselves (the feedback and incentives producers are built in
parallel; their contracts are what the tests publish).

One app per module; tests keep to customers, products and cases of their own (``unique`` ids).

The analytics tests publish several hundred made-up orders, cases and staff events: on the session
broker, every other service's consumers would have to wade through them (and dead-letter the ones
they cannot place). So each analytics test module runs on a broker of its own, which also keeps one
module's events and consumer group out of the next module's figures.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.analytics.app import create_app
from services.analytics.config import AnalyticsSettings
from shared.bus.kafka import ensure_topics
from shared.bus.tables import InboxMessage
from shared.events.envelope import EventEnvelope
from shared.events.registry import dead_letter_topic, service_topic
from shared.testing.apps import bearer
from shared.testing.events import EventLog, recorded
from shared.testing.infra import outage_broker

TOPICS = [service_topic(s) for s in ("customers", "orders", "feedback", "incentives", "analytics")]
PROBLEM_JSON = "application/problem+json"
MANAGER = bearer("manager", subject="mgr-1")
ANALYST = bearer("analyst", subject="ana-1")
SUPPORT = bearer("support", subject="sup-1")
SERVICE = bearer("service", subject="svc-1")
ADMIN = bearer("admin", subject="adm-1")


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def settings_for(database_url: str, kafka_bootstrap: str, **overrides: Any) -> AnalyticsSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap": kafka_bootstrap,
        "relay_idle_seconds": 0.2,
        "consumer_backoff_seconds": 0.1,
        "detection_debounce_seconds": 0.0,
        "detection_poll_seconds": 0.3,
        "detection_enabled": False,
        **overrides,
    }
    return AnalyticsSettings(**values)


@pytest.fixture(scope="module")
async def topics() -> AsyncIterator[str]:
    """The bootstrap address of this module's own broker, with every topic analytics reads or writes."""
    broker = outage_broker()
    await asyncio.to_thread(broker.start)
    try:
        await ensure_topics(broker.bootstrap, TOPICS + [dead_letter_topic(t) for t in TOPICS])
        yield broker.bootstrap
    finally:
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(broker.home, ignore_errors=True)


@pytest.fixture(scope="module")
async def producer(topics: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=topics, enable_idempotence=True, acks="all")
    await client.start()
    yield client
    await asyncio.wait_for(client.stop(), 15)


@pytest.fixture(scope="module")
async def app(module_database_url: str, topics: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings_for(module_database_url, topics))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="module")
async def analytics_log(topics: str) -> AsyncIterator[EventLog]:
    async with recorded(topics, service_topic("analytics")) as log:
        yield log


async def publish(producer: AIOKafkaProducer, envelopes: Iterable[EventEnvelope]) -> None:
    """Send each envelope to its producer's topic, keyed as the services key them, in the given order."""
    for envelope in envelopes:
        await producer.send_and_wait(
            service_topic(envelope.producer),
            envelope.to_bytes(),
            key=envelope.key.encode(),
            headers=[("event-type", envelope.type.encode()), ("event-id", str(envelope.event_id).encode())],
        )


async def applied(app: FastAPI, envelopes: Iterable[EventEnvelope], timeout: float = 60.0) -> None:
    """Wait until the consumer has handled (or skipped as unknown) every given event."""
    wanted = {str(e.event_id) for e in envelopes if app.state.runtime.handlers.get(e.type, e.version)}
    inbox = InboxMessage.__table__
    deadline = time.monotonic() + timeout
    while True:
        async with app.state.runtime.db.transaction() as session:
            done = set(
                (await session.execute(sa.select(inbox.c.event_id).where(inbox.c.event_id.in_(wanted)))).scalars()
            )
        if done >= wanted:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(wanted - done)} of {len(wanted)} events not applied")
        await asyncio.sleep(0.2)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    return body
