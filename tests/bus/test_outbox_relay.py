"""The outbox relay against the real broker and PostgreSQL: nothing lost, nothing reordered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, OutOfOrderSequenceNumber
from sqlalchemy import event, func, select, text

from shared.bus.kafka import start_producer
from shared.bus.outbox import add_event
from shared.bus.relay import _RELAY_LOCK, OutboxRelay, TickResult
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


def count_ticks(relay: OutboxRelay) -> list[int]:
    """The relay's ticks from now on, counted in the one-element list returned."""
    ticks = [0]
    original = relay.run_once

    async def counted() -> TickResult:
        ticks[0] += 1
        return await original()

    relay.run_once = counted  # type: ignore[method-assign]
    return ticks


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
    """A producer factory whose first producer refuses its first record, as a broker hiccup would."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.failed = False

    async def __call__(self) -> AIOKafkaProducer:
        producer = await start_producer(self.bootstrap, client_id="failing-once")
        if not self.failed:
            original = producer.send

            async def send(*args, **kwargs):  # type: ignore[no-untyped-def]
                if not self.failed:
                    self.failed = True
                    raise KafkaConnectionError("injected failure")
                return await original(*args, **kwargs)

            producer.send = send  # type: ignore[method-assign]
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
        backlog = await relay.backlog()
        assert backlog.pending == 5 and backlog.oldest_created_at and backlog.oldest_created_at.tzinfo is not None
        assert await relay.has_pending()
        await drain(relay, db)
        assert (await relay.backlog()).pending == 0 and not await relay.has_pending()
        await relay.close()
        records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=5)
        assert [e["payload"]["seq"] for e, _ in records] == list(range(5))
        assert all(h["event-type"] == "probe.thing.happened" for _, h in records)
    finally:
        await db.dispose()


def failed_delivery(error: Exception) -> asyncio.Future[object]:
    delivery = asyncio.get_running_loop().create_future()
    delivery.set_exception(error)
    return delivery


class RefusingKey:
    """Producers that cannot deliver one key (its partition has no leader) until ``heal()``."""

    def __init__(self, bootstrap: str, key: bytes) -> None:
        self.bootstrap, self.key, self.healed = bootstrap, key, False

    def heal(self) -> None:
        self.healed = True

    async def __call__(self) -> AIOKafkaProducer:
        producer = await start_producer(self.bootstrap, client_id="refusing-key")
        original = producer.send

        async def send(topic, value, key=None, **kwargs):  # type: ignore[no-untyped-def]
            if key == self.key and not self.healed:
                return failed_delivery(KafkaTimeoutError("partition leader unavailable"))
            return await original(topic, value, key=key, **kwargs)

        producer.send = send  # type: ignore[method-assign]
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


class FailingInTheMiddle:
    """A producer whose delivery of one event fails, and, as the idempotent producer's broker
    then refuses every later batch of that partition (OutOfOrderSequenceNumber), the later events of
    that key fail too. ``deliver_later_ones`` instead acknowledges them, as a producer without
    idempotence could: the relay must still not mark them published before the failed one."""

    def __init__(self, bootstrap: str, seq: int, *, deliver_later_ones: bool = False) -> None:
        self.bootstrap, self.seq, self.deliver_later_ones = bootstrap, seq, deliver_later_ones
        self.producers = 0

    async def __call__(self) -> AIOKafkaProducer:
        self.producers += 1
        producer = await start_producer(self.bootstrap, client_id="failing-in-the-middle")
        if self.producers > 1:
            return producer  # the relay's next producer is healthy
        original = producer.send
        broken: set[bytes] = set()  # keys standing for their partitions: the other key stands for another

        async def send(topic, value, key=None, **kwargs):  # type: ignore[no-untyped-def]
            seq = ProbeHappenedV1.model_validate(json.loads(value)["payload"]).seq
            if seq == self.seq:
                broken.add(key)
                return failed_delivery(KafkaTimeoutError("batch expired"))
            if key in broken and not self.deliver_later_ones:
                return failed_delivery(OutOfOrderSequenceNumber())
            return await original(topic, value, key=key, **kwargs)

        producer.send = send  # type: ignore[method-assign]
        return producer


async def published_seqs(db: Database) -> list[int]:
    async with db.session() as session:
        envelopes = await session.scalars(select(OutboxMessage.envelope).where(OutboxMessage.published_at.is_not(None))
                                          .order_by(OutboxMessage.id))
        return [json.loads(e)["payload"]["seq"] for e in envelopes]


@pytest.mark.parametrize("deliver_later_ones", [False, True], ids=["idempotent", "later-rows-acknowledged"])
async def test_a_delivery_failing_in_the_middle_of_a_key_publishes_only_the_rows_before_it(
    bus_db: Database, probe: Probe, deliver_later_ones: bool
) -> None:
    await write_events(bus_db, probe.run, range(10), key_of=lambda s: "one-key")
    await write_events(bus_db, probe.run, range(10, 13), key_of=lambda s: "other-key")
    factory = FailingInTheMiddle(probe.bootstrap, 4, deliver_later_ones=deliver_later_ones)
    relay = OutboxRelay(db=bus_db, producer_factory=factory, service="test")
    result = await relay.run_once()
    assert result.failed and result.published
    # Of the failing key, exactly the rows before the failed one; the other key is unaffected.
    assert sorted(await published_seqs(bus_db)) == [0, 1, 2, 3, 10, 11, 12]
    async with bus_db.session() as session:
        attempts = dict((await session.execute(select(OutboxMessage.envelope, OutboxMessage.attempts)
                                               .where(OutboxMessage.attempts > 0))).all())
    assert [json.loads(e)["payload"]["seq"] for e in attempts] == [4]  # the row that holds its key back

    await asyncio.sleep(1.5)  # the failing key's own backoff
    await drain(relay, bus_db)
    await relay.close()
    assert factory.producers == 2, "the producer that failed was not replaced"
    records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=13 + 5 * deliver_later_ones)
    one_key = [e["payload"]["seq"] for e, _ in records if e["customer_id"] == "one-key"]
    if deliver_later_ones:  # without idempotence 5-9 reach the log twice; the relay can only keep its marks right
        assert one_key == [0, 1, 2, 3, 5, 6, 7, 8, 9, 4, 5, 6, 7, 8, 9]
    else:
        assert one_key == list(range(10))


async def test_commits_during_a_broker_outage_do_not_cut_the_relays_backoff_short(
    bus_db: Database, outage_kafka: LocalKafka, probe: Probe
) -> None:
    await asyncio.to_thread(outage_kafka.stop)
    relay = OutboxRelay(db=bus_db, producer_factory=producer_factory(outage_kafka.bootstrap), service="test",
                        send_timeout=2.0)
    ticks = count_ticks(relay)
    task = asyncio.create_task(relay.run_forever())
    commits = 30
    try:
        for seq in range(commits):  # requests keep committing events while the broker is away
            await write_events(bus_db, probe.run, range(seq, seq + 1), key_of=lambda s: "k")
            relay.notify()
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=15)
        await asyncio.wait_for(relay.close(), 10)
    assert relay.state == "unavailable"
    # Each wake-up used to build a producer and try again (199 attempts on one row in 53 s).
    assert ticks[0] < commits / 3, f"{ticks[0]} relay ticks for {commits} commits while the broker was down"
    async with bus_db.session() as session:
        # One failed attempt recorded per tick at most (the last tick may have been cut short by the cancel).
        assert 1 <= await session.scalar(select(func.max(OutboxMessage.attempts))) <= ticks[0]
    assert await pending(bus_db) == commits


async def test_the_idle_relay_only_probes_and_a_commit_wakes_it(bus_db: Database, probe: Probe) -> None:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()).lower())

    event.listen(bus_db.engine.sync_engine, "before_cursor_execute", record)
    relay = OutboxRelay(db=bus_db, producer_factory=producer_factory(probe.bootstrap), service="test",
                        idle_seconds=0.05, max_idle_seconds=0.2)
    task = asyncio.create_task(relay.run_forever())
    try:
        await asyncio.sleep(2)  # idle: several polls
        idle = [s for s in statements if "outbox" in s]
        relay.idle_seconds = relay.max_idle_seconds = 60.0  # from now on only a wake-up can be quick
        await asyncio.sleep(0.3)
        await write_events(bus_db, probe.run, range(1), key_of=lambda s: "k")
        relay.notify()
        records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=1, timeout=15)
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=15)
        await relay.close()
        event.remove(bus_db.engine.sync_engine, "before_cursor_execute", record)
    assert len(records) == 1
    probes = [s for s in idle if s.startswith("select outbox.id from outbox where outbox.published_at is null")]
    counts = [s for s in idle if "count(" in s]
    assert len(probes) >= 3
    assert len(counts) == 1, "the backlog was counted on more than the first idle tick"
    assert not [s for s in idle if "row_number" in s or "pg_try_advisory" in s], "an idle poll ran a full tick"
    assert len(probes) + len(counts) + 2 >= len(idle)  # the first tick's lock and read


async def test_a_relay_that_lost_the_lock_is_not_woken_by_every_commit(bus_db: Database, probe: Probe) -> None:
    """Two workers: the one without the lock used to try for it on every commit of its process
    (three round trips that can only fail); it now tries once per idle period, and still
    publishes what is pending once the holder lets go."""
    relay = OutboxRelay(db=bus_db, producer_factory=producer_factory(probe.bootstrap), service="test",
                        idle_seconds=0.5)
    attempts = count_ticks(relay)
    holder = await bus_db.engine.connect()  # the other worker's relay, in the middle of a tick
    await holder.begin()
    assert await holder.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
    task = asyncio.create_task(relay.run_forever())
    commits = 30
    try:
        for seq in range(commits):  # this worker's requests keep committing and waking its relay
            await write_events(bus_db, probe.run, range(seq, seq + 1), key_of=lambda s: "k")
            relay.notify()
            await asyncio.sleep(0.05)
        contended_attempts = attempts[0]
        await holder.rollback()  # the holder's tick ends (it stopped, say, before seeing our rows)
        records = await read_topic(probe.bootstrap, PROBE_TOPIC, run=probe.run, expected=commits, timeout=20)
    finally:
        await holder.close()
        task.cancel()
        await asyncio.wait([task], timeout=15)
        await relay.close()
    # About 1.5 s of commits at one try per 0.5 s: 3-5 tries, not one per commit.
    assert contended_attempts <= 6, f"{contended_attempts} lock attempts for {commits} commits while contended"
    assert [e["payload"]["seq"] for e, _ in records] == list(range(commits))
