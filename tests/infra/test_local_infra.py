"""Smoke tests of the local infrastructure helpers against real servers.

They start real processes (a PostgreSQL server, a Kafka broker on the JDK) on
ports of their own in throwaway folders, so they run beside a developer's
default instances. The Kafka test reuses the repository's jar folder
(``.local/kafka/libs``), fetching it with Maven on first use.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.infra.kafka import DEFAULT_HOME, LocalKafka
from shared.infra.postgres import LocalPostgres
from shared.testing.apps import free_port

pytestmark = pytest.mark.integration

# Free ports, not fixed ones: a fixed port collides with whatever else runs on the machine (a
# developer's `pelanggan run --kafka-port 19192`, a parallel job).
PG_TEST_PORT = free_port()
KAFKA_TEST_PORT = free_port()
KAFKA_TEST_CONTROLLER_PORT = free_port()


def test_local_postgres_starts_creates_database_and_stops(tmp_path: Path) -> None:
    pg = LocalPostgres(datadir=tmp_path / "pgdata", port=PG_TEST_PORT)
    try:
        pg.start()
        pg.start()  # idempotent
        assert pg.status()["running"] is True

        assert pg.create_database("infra_smoke") is True
        assert pg.create_database("infra_smoke") is False  # idempotent

        async def select_one() -> int:
            conn = await asyncpg.connect(pg.url("infra_smoke", driver=None))
            try:
                return await conn.fetchval("SELECT 1")
            finally:
                await conn.close()

        assert asyncio.run(select_one()) == 1
        assert pg.url("infra_smoke") == f"postgresql+asyncpg://postgres@127.0.0.1:{PG_TEST_PORT}/infra_smoke"
        assert pg.drop_database("infra_smoke") is True
    finally:
        pg.stop()
    status = pg.status()
    assert status["running"] is False
    assert status["pid"] is None
    pg.stop()  # idempotent
    pg.reset()
    assert not (tmp_path / "pgdata").exists()


def test_local_kafka_produces_consumes_and_stops(tmp_path: Path) -> None:
    kafka = LocalKafka(
        home=tmp_path / "kafka",
        port=KAFKA_TEST_PORT,
        controller_port=KAFKA_TEST_CONTROLLER_PORT,
        libs_dir=DEFAULT_HOME / "libs",
    )
    topic = f"infra-smoke-{uuid.uuid4().hex[:8]}"
    payload = uuid.uuid4().bytes

    async def round_trip() -> bytes:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, payload, key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap,
            group_id="infra-smoke",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        return message.value

    try:
        kafka.start()
        kafka.start()  # idempotent: already answering
        status = kafka.status()
        assert status["running"] is True
        assert status["answering"] is True
        assert status["bootstrap"] == f"127.0.0.1:{KAFKA_TEST_PORT}"
        assert asyncio.run(round_trip()) == payload
    finally:
        kafka.stop()
    assert kafka.is_running() is False
    assert kafka.status()["answering"] is False
    kafka.stop()  # idempotent
