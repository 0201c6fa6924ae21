"""Fixtures for the bus tests: a database with the common tables and a probe table, probe events."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.bus.kafka import ensure_topics
from shared.db.base import shared_metadata
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.events.envelope import EventEnvelope
from shared.events.registry import EventContract, contract, dead_letter_topic, topic_for
from shared.infra.kafka import LocalKafka
from shared.testing.infra import outage_broker

probe_metadata = sa.MetaData()
# The effect a probe handler applies: one row per handled event (duplicates would show here).
probe_effect = sa.Table(
    "probe_effect", probe_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run", sa.String(36), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
)


@contract("probe.thing.happened", 1)
class ProbeHappenedV1(EventContract):
    run: str
    seq: int


PROBE_TOPIC = topic_for(ProbeHappenedV1.event_type)
PROBE_DLQ = dead_letter_topic(PROBE_TOPIC)


def probe_envelope(run: str, seq: int, *, key: str = "k1") -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), type=ProbeHappenedV1.event_type, version=1, occurred_at=utcnow(),
                         producer="probe", aggregate_id=f"agg-{seq}", customer_id=key, correlation_id=run,
                         payload=ProbeHappenedV1(run=run, seq=seq).model_dump(mode="json"))


@dataclass
class Probe:
    run: str
    bootstrap: str


@pytest.fixture
async def bus_db(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(shared_metadata.create_all)
        await conn.run_sync(probe_metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
async def outage_kafka() -> AsyncIterator[LocalKafka]:
    """A broker of this test's own, to stop and restart."""
    broker = outage_broker()
    await asyncio.to_thread(broker.start)
    await ensure_topics(broker.bootstrap, [PROBE_TOPIC])
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(broker.home, ignore_errors=True)


@pytest.fixture(scope="session")
async def probe_topics(kafka_bootstrap: str) -> str:
    await ensure_topics(kafka_bootstrap, [PROBE_TOPIC, PROBE_DLQ], partitions=3)
    return kafka_bootstrap


@pytest.fixture
def probe(probe_topics: str) -> Probe:
    return Probe(run=str(uuid.uuid4()), bootstrap=probe_topics)


async def produce(bootstrap: str, envelopes: list[EventEnvelope], *, topic: str = PROBE_TOPIC) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(topic, envelope.to_bytes(), key=envelope.key.encode())
    finally:
        await producer.stop()


async def produce_raw(bootstrap: str, value: bytes, *, key: bytes = b"k1", topic: str = PROBE_TOPIC) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, run: str, expected: int,
                     timeout: float = 30.0) -> list[tuple[dict, dict]]:
    """(envelope, headers) of the records of ``run`` on ``topic``, in log order per partition."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"reader-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[dict, dict]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        envelope = EventEnvelope.from_bytes(record.value)
                    except ValueError:
                        continue
                    if envelope.payload.get("run") == run or envelope.correlation_id == run:
                        headers = {k: v.decode() for k, v in record.headers or []}
                        found.append((envelope.model_dump(mode="json"), headers))
    finally:
        await consumer.stop()
    return found


async def effects(db: Database, run: str) -> list[int]:
    async with db.session() as session:
        rows = await session.execute(sa.select(probe_effect.c.seq).where(probe_effect.c.run == run)
                                     .order_by(probe_effect.c.id))
        return [seq for (seq,) in rows]
