"""``pelanggan analytics rebuild``: dropping the read models and replaying every topic gives the same figures.

On a broker of its own: a rebuild replays whole topics, and the session broker's topics hold every other
test's events too.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.producer import AIOKafkaProducer
from rich.console import Console

from services.analytics.app import create_app
from services.analytics.cli import run_rebuild
from services.analytics.rebuild import RebuildRefused, checksum, rebuild
from services.analytics.tests.conftest import ANALYST, TOPICS, applied, publish, settings_for, unique
from services.analytics.tests.scenario import EXPECTED_A, figures, scenario
from shared.bus.kafka import ensure_topics
from shared.events.registry import dead_letter_topic
from shared.testing.apps import app_client
from shared.testing.infra import outage_broker

pytestmark = pytest.mark.integration


async def caught_up(bootstrap: str, group: str, topics: list[str], timeout: float = 90) -> None:
    """Until the group's committed offsets reach the end of every topic it reads."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        deadline = time.monotonic() + timeout
        while True:
            end = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group)
            if all((committed.get(tp).offset if committed.get(tp) else 0) >= end[tp] for tp in partitions):
                return
            assert time.monotonic() < deadline, "the consumer did not catch up"
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


@pytest.fixture
async def own_broker() -> AsyncIterator[str]:
    broker = outage_broker()
    await asyncio.to_thread(broker.start)
    try:
        await ensure_topics(broker.bootstrap, TOPICS + [dead_letter_topic(t) for t in TOPICS])
        yield broker.bootstrap
    finally:
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(broker.home, ignore_errors=True)


@pytest.fixture
async def own_producer(own_broker: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=own_broker, enable_idempotence=True, acks="all")
    await client.start()
    yield client
    await asyncio.wait_for(client.stop(), 15)


async def test_rebuild_gives_identical_read_models(database_url: str, own_broker: str,
                                                   own_producer: AIOKafkaProducer) -> None:
    topics, producer = own_broker, own_producer
    group = "analytics"  # the service's own group, on a log holding only this test's events
    settings = settings_for(database_url, topics, detection_enabled=True)
    app = create_app(settings)
    a, b, d = unique("ca-"), unique("cb-"), unique("cd-")
    events = scenario(a, b, d, unique())
    shuffled = events + random.Random(2).sample(events, 5)
    random.Random(3).shuffle(shuffled)
    async with app_client(app) as client:
        await publish(producer, shuffled)
        await applied(app, events, timeout=240)
        await caught_up(topics, group, app.state.runtime.handlers.topics)
        first_tables: dict[str, str] = {}
        before = await checksum(app.state.runtime.db, per_table=first_tables)
        with pytest.raises(RebuildRefused):  # the service is still consuming
            await rebuild(settings, wait_seconds=0)
    console = Console(record=True, width=120)
    status = await asyncio.to_thread(run_rebuild, console, settings)  # the command, with its progress bars
    output = console.export_text()
    assert status == 0, output
    assert "identical" in output and "events/s" in output and "0 failed" in output
    assert f"replayed {len(shuffled)} events: {len(shuffled)} applied" in output
    rebuilt_tables: dict[str, str] = {}
    assert await checksum(app.state.runtime.db, per_table=rebuilt_tables) == before
    assert rebuilt_tables == first_tables

    second = create_app(settings)
    async with app_client(second) as client:  # the service goes on after the replayed offsets
        body = (await client.get(f"/profitability/customers/{a}", headers=ANALYST)).json()
        assert figures(body, EXPECTED_A) == EXPECTED_A
        more = scenario(unique("ca-"), unique("cb-"), unique("cd-"), unique())
        await publish(producer, more)
        await applied(second, more, timeout=240)
        later = (await client.get(f"/profitability/customers/{a}", headers=ANALYST)).json()
        assert figures(later, EXPECTED_A) == EXPECTED_A  # nothing applied twice
