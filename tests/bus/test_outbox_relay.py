"""The outbox relay against the real broker and PostgreSQL: nothing lost, nothing reordered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy import func, select

from shared.bus.kafka import start_producer
from shared.bus.outbox import add_event
from shared.bus.relay import OutboxRelay
from shared.bus.tables import OutboxMessage
from shared.db.engine import Database
from shared.infra.kafka import LocalKafka
from tests.bus.conftest import PROBE_TOPIC, Probe, ProbeHappenedV1, read_topic

pytestmark = pytest.mark.integration


def producer_factory(bootstrap: str, timeout: float = 3.0) -> Callable[[], Awaitable[AIOKafkaProducer]]:
    async def make() -> AIOKafkaProducer:
        return await start_producer(bootstrap, client_id="test-relay", timeout=timeout)

    return make


async def write_events(db: Database, run: str, seqs: range, *, key_of: Callable[[int], str]) -> None:
    for seq in seqs:  # one transaction each, as separate requests would
        async with db.transaction() as session:
            add_event(session, ProbeHappenedV1(run=run, seq=seq), aggregate_id=f"a{seq}", customer_id=key_of(seq))


async def pending(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.published_at.is_(None)))


async def drain(relay: OutboxRelay, db: Database, *, ticks: int = 50) -> None:
    for _ in range(ticks):
        await relay.run_once()
        if await pending(db) == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"outbox not drained: {await pending(db)} pending")


def seqs_by_key(records: list[tuple[dict, dict]]) -> dict[str, list[int]]:
    result: dict[str, list[int]] = {}
    for envelope, _ in records:
        result.setdefault(envelope["customer_id"], []).append(envelope["payload"]["seq"])
    return result


async def test_events_written_while_the_broker_is_down_are_published_in_order_after_it_returns(
    bus_db: Database, outage_kafka: LocalKafka, probe: Probe
) -> None:
    await asyncio.to_thread(outage_kafka.stop)
    await write_events(bus_db, probe.run, range(30), key_of=lambda s: f"customer-{s % 3}")
    relay = OutboxRelay(db=bus_db, producer_factory=producer_factory(outage_kafka.bootstrap), service="test",
                        send_timeout=3.0)

    # With the broker down a tick ends (bounded), leaves every row pending and records the failure.
    result = await asyncio.wait_for(relay.run_once(), 30)
    assert result.failed and not result.published
    assert await pending(bus_db) == 30
    async with bus_db.session() as session:
        assert await session.scalar(select(func.max(OutboxMessage.attempts))) == 1
    await asyncio.wait_for(relay.close(), 10)

    await asyncio.to_thread(outage_kafka.start)
    await drain(relay, bus_db)
    await relay.close()

    records = await read_topic(outage_kafka.bootstrap, PROBE_TOPIC, run=probe.run, expected=30)
    assert len(records) == 30
    assert len({e["event_id"] for e, _ in records}) == 30, "an event was published twice"
    by_key = seqs_by_key(records)
    assert by_key == {f"customer-{k}": [s for s in range(30) if s % 3 == k] for k in range(3)}


async def test_relay_loop_and_shutdown_end_in_bounded_time_while_the_broker_is_down(
    bus_db: Database, outage_kafka: LocalKafka, probe: Probe
) -> None:
    await asyncio.to_thread(outage_kafka.stop)
    await write_events(bus_db, probe.run, range(3), key_of=lambda s: "k")
    relay = OutboxRelay(db=bus_db, producer_factory=producer_factory(outage_kafka.bootstrap), service="test",
                        send_timeout=2.0)
    task = asyncio.create_task(relay.run_forever())
    await asyncio.sleep(3)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=15)
    assert done, "the relay task did not stop while the broker was down"
    await asyncio.wait_for(relay.close(), 10)
    assert await pending(bus_db) == 3


async def test_a_row_committed_after_a_later_id_was_published_is_still_published(
    bus_db: Database, probe: Probe
) -> None:
    relay = OutboxRelay(db=bus_db, producer_factory=producer_factory(probe.bootstrap), service="test")
    slow = bus_db.session()
    await slow.begin()
    add_event(slow, ProbeHappenedV1(run=probe.run, seq=1), aggregate_id="a1", customer_id="k-slow")
    await slow.flush()  # takes the lower id, commits later
    await write_events(bus_db, probe.run, range(2, 3), key_of=lambda s: "k-fast")
    await relay.run_once()
    await slow.commit()
    await slow.close()
    await drain(relay, bus_db)
    await relay.close()
    records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=2)
    assert sorted(e["payload"]["seq"] for e, _ in records) == [1, 2]


class FailingOnce:
    """A producer factory whose first producer fails its first send, as a broker hiccup would."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.failed = False

    async def __call__(self) -> AIOKafkaProducer:
        producer = await start_producer(self.bootstrap, client_id="failing-once")
        if not self.failed:
            original = producer.send_and_wait

            async def send_and_wait(*args, **kwargs):  # type: ignore[no-untyped-def]
                if not self.failed:
                    self.failed = True
                    raise KafkaConnectionError("injected failure")
                return await original(*args, **kwargs)

            producer.send_and_wait = send_and_wait  # type: ignore[method-assign]
        return producer


async def test_two_relays_and_a_failed_first_send_keep_one_key_in_order(bus_db: Database, probe: Probe) -> None:
    await write_events(bus_db, probe.run, range(10), key_of=lambda s: "one-key")
    flaky = FailingOnce(probe.bootstrap)
    relays = [OutboxRelay(db=bus_db, producer_factory=flaky, service="test", batch_size=5),
              OutboxRelay(db=bus_db, producer_factory=producer_factory(probe.bootstrap), service="test",
                          batch_size=5)]
    deadline = time.monotonic() + 60
    while await pending(bus_db) and time.monotonic() < deadline:
        await asyncio.gather(*(r.run_once() for r in relays))
    for relay in relays:
        await relay.close()
    assert flaky.failed
    records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=10)
    assert [e["payload"]["seq"] for e, _ in records] == list(range(10))


async def test_relay_publishes_from_the_embedded_sqlite_database(tmp_path, probe: Probe) -> None:  # type: ignore[no-untyped-def]
    from shared.db.base import shared_metadata

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    try:
        assert await db.journal_mode() == "wal"
        async with db.engine.begin() as conn:
            await conn.run_sync(shared_metadata.create_all)
        await write_events(db, probe.run, range(5), key_of=lambda s: "k")
        relay = OutboxRelay(db=db, producer_factory=producer_factory(probe.bootstrap), service="test")
        await drain(relay, db)
        await relay.close()
        records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=5)
        assert [e["payload"]["seq"] for e, _ in records] == list(range(5))
        assert all(h["event-type"] == "probe.thing.happened" for _, h in records)
    finally:
        await db.dispose()


class RefusingKey:
    """Producers that cannot deliver one key (its partition has no leader) until ``heal()``."""

    def __init__(self, bootstrap: str, key: bytes) -> None:
        self.bootstrap, self.key, self.healed = bootstrap, key, False

    def heal(self) -> None:
        self.healed = True

    async def __call__(self) -> AIOKafkaProducer:
        producer = await start_producer(self.bootstrap, client_id="refusing-key")
        original = producer.send_and_wait

        async def send_and_wait(topic, value, key=None, **kwargs):  # type: ignore[no-untyped-def]
            if key == self.key and not self.healed:
                raise KafkaTimeoutError("partition leader unavailable")
            return await original(topic, value, key=key, **kwargs)

        producer.send_and_wait = send_and_wait  # type: ignore[method-assign]
        return producer


async def test_a_key_that_cannot_be_delivered_does_not_stall_the_others(bus_db: Database, probe: Probe) -> None:
    await write_events(bus_db, probe.run, range(60), key_of=lambda s: "stuck")
    await write_events(bus_db, probe.run, range(60, 63), key_of=lambda s: "fine")
    refusing = RefusingKey(probe.bootstrap, b"stuck")
    relay = OutboxRelay(db=bus_db, producer_factory=refusing, service="test", batch_size=50, rows_per_key=20)
    for _ in range(3):
        await relay.run_once()
    fine = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=3)
    assert [e["payload"]["seq"] for e, _ in fine] == [60, 61, 62]
    assert await pending(bus_db) == 60

    refusing.heal()
    await asyncio.sleep(2)  # the stuck key's own backoff
    await drain(relay, bus_db)
    await relay.close()
    records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=63)
    assert [e["payload"]["seq"] for e, _ in records if e["customer_id"] == "stuck"] == list(range(60))
