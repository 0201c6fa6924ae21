"""Readiness and background work of ``ServiceRuntime`` against the real broker and PostgreSQL.

Ready means "this instance can serve its API": the database answers and its schema is at the
migrations' head. Broker, outbox and consumer trouble is reported as degraded, never as unready.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.handlers import HandlerRegistry
from shared.bus.outbox import add_event
from shared.bus.tables import OutboxMessage
from shared.config import ServiceSettings
from shared.events.envelope import EventEnvelope
from shared.infra.kafka import LocalKafka
from shared.runtime import ServiceRuntime
from shared.testing.apps import free_port
from tests.bus.conftest import PROBE_TOPIC, Probe, ProbeHappenedV1, probe_effect
from tests.bus.test_consumer import wait_for

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).parent / "runtime_migrations"
# What an exception's repr looks like in a body: SomeError(...), <object at 0x...>, errno texts.
LEAKED = re.compile(r"[A-Z]\w*(Error|Exception)\(|\bErrno\b|object at 0x|Traceback")


def probe_registry(run: str) -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.on("probe.thing.happened", 1)
    async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.payload["run"] == run:
            await session.execute(sa.insert(probe_effect).values(run=run, seq=envelope.payload["seq"],
                                                                  event_id=str(envelope.event_id)))

    return registry


def make_runtime(database_url: str, bootstrap: str, *, run: str | None = None, **overrides: Any) -> ServiceRuntime:
    settings = ServiceSettings(service_name=f"probe-{uuid.uuid4().hex[:6]}", database_url=database_url,
                               kafka_bootstrap=bootstrap, relay_idle_seconds=0.2, consumer_backoff_seconds=0.1,
                               **overrides)
    runtime = ServiceRuntime(settings, migrations_dir=MIGRATIONS, published_topics=[PROBE_TOPIC],
                             handlers=probe_registry(run) if run else None)
    for consumer in runtime.consumers:
        consumer.probe_seconds = 0.3
    return runtime


@asynccontextmanager
async def started(runtime: ServiceRuntime) -> AsyncIterator[ServiceRuntime]:
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def body_when(runtime: ServiceRuntime, predicate: Any, timeout: float = 60.0) -> tuple[bool, dict[str, Any]]:
    seen: list[tuple[bool, dict[str, Any]]] = []

    async def check() -> bool:
        seen.append(await runtime.readiness())
        return bool(predicate(*seen[-1]))

    try:
        await wait_for(check, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"readiness never matched; last answer: {seen[-1] if seen else None}") from None
    return seen[-1]


def assert_no_exception_text(body: dict[str, Any]) -> None:
    text = json.dumps(body)
    assert not LEAKED.search(text), f"the unauthenticated body shows an exception: {text}"


async def test_a_broker_outage_leaves_the_instance_ready_and_reports_it_degraded(
    database_url: str, outage_kafka: LocalKafka
) -> None:
    run = str(uuid.uuid4())
    runtime = make_runtime(database_url, outage_kafka.bootstrap, run=run)
    async with started(runtime):
        ready, body = await body_when(runtime, lambda ready, body: body["status"] == "ready")
        assert ready and body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
        assert body["checks"]["consumers"][0]["state"] == "running"

        await asyncio.to_thread(outage_kafka.stop)
        async with runtime.db.transaction() as session:  # the API still writes: the outbox keeps the event
            add_event(session, ProbeHappenedV1(run=run, seq=1), aggregate_id="a1", customer_id="k")
        ready, body = await body_when(
            runtime, lambda ready, body: body["checks"]["consumers"][0]["state"] == "broker unreachable"
            and body["checks"]["outbox"]["state"] == "unavailable" and body["checks"]["broker"] == "unreachable"
            and body["checks"]["outbox"]["backlog"] == 1)
        # Every replica stays in the load balancer: it serves its API.
        assert ready is True and body["status"] == "degraded"
        assert body["checks"]["consumers"][0]["lag"] is None  # unknown, not 0
        assert_no_exception_text(body)
        service = runtime.settings.service_name
        assert REGISTRY.get_sample_value("pelanggan_ready", {"service": service}) == 1
        assert REGISTRY.get_sample_value("pelanggan_degraded", {"service": service, "check": "broker"}) == 1
        assert REGISTRY.get_sample_value("pelanggan_consumer_state", {
            "service": service, "group": service, "state": "broker unreachable"}) == 1

        await asyncio.to_thread(outage_kafka.start)
        ready, body = await body_when(runtime, lambda ready, body: body["status"] == "ready", timeout=120)
        assert runtime.consumers[0].last_error is None  # cleared once the cause is gone
        assert runtime.relay.last_error is None
        await wait_for(lambda: effects_of(runtime, run), timeout=60)  # the event went through after all
    assert REGISTRY.get_sample_value("pelanggan_degraded", {"service": service, "check": "broker"}) == 0


async def effects_of(runtime: ServiceRuntime, run: str) -> list[int]:
    async with runtime.db.session() as session:
        return list(await session.scalars(sa.select(probe_effect.c.seq).where(probe_effect.c.run == run)))


async def test_an_instance_whose_schema_is_behind_the_migrations_is_not_ready(
    database_url: str, probe: Probe
) -> None:
    runtime = make_runtime(database_url, probe.bootstrap, bus_enabled=False)
    async with started(runtime):
        ready, body = await runtime.readiness()
        assert ready and body == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
        async with runtime.db.transaction() as session:
            await session.execute(sa.text("DELETE FROM alembic_version"))
        ready, body = await runtime.readiness()
    assert not ready
    assert body == {"status": "not ready", "checks": {"database": "ok", "migrations": "behind"}}


async def test_an_unreachable_database_is_not_ready_and_the_body_says_so_in_a_word(probe: Probe) -> None:
    runtime = make_runtime(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/nowhere", probe.bootstrap)
    try:
        ready, body = await runtime.readiness()
    finally:
        await runtime.db.dispose()
    assert not ready
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "unreachable" and body["checks"]["migrations"] == "unknown"
    assert_no_exception_text(body)


async def test_readiness_on_sqlite_does_not_queue_behind_a_writer(tmp_path: Path, probe: Probe) -> None:
    runtime = make_runtime(f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}", probe.bootstrap, bus_enabled=False)
    async with started(runtime):
        async with runtime.db.transaction() as writer:  # BEGIN IMMEDIATE: holds the write lock
            await writer.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
            ready, body = await runtime.readiness()
    assert ready, body


async def test_published_outbox_rows_are_pruned_in_the_background(database_url: str, probe: Probe) -> None:
    runtime = make_runtime(database_url, probe.bootstrap, outbox_retention_hours=0.5 / 3600,
                           retention_interval_seconds=0.5)
    async with started(runtime):
        async with runtime.db.transaction() as session:
            add_event(session, ProbeHappenedV1(run=probe.run, seq=1), aggregate_id="a1", customer_id="k")

        async def outbox_rows() -> int:
            async with runtime.db.session() as session:
                return await session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))

        await wait_for(lambda: outbox_rows_are(outbox_rows, 0))
    assert REGISTRY.get_sample_value("pelanggan_outbox_pruned_total",
                                     {"service": runtime.settings.service_name}) == 1


async def outbox_rows_are(count: Any, expected: int) -> bool:
    return await count() == expected
