"""The consumer runner against the real broker and PostgreSQL: once in effect, never skipped, never stuck."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.consumer import ConsumerRunner
from shared.bus.dead_letters import read_dead_letters, replay_dead_letters
from shared.bus.handlers import HandlerRegistry
from shared.db.engine import Database
from shared.events.envelope import EventEnvelope
from shared.infra.kafka import LocalKafka
from tests.bus.conftest import (
    PROBE_DLQ,
    PROBE_TOPIC,
    Probe,
    effects,
    probe_effect,
    probe_envelope,
    produce,
    produce_raw,
)

pytestmark = pytest.mark.integration


class ProbeHandler:
    """Applies probe events of one run; can be told to fail for some sequence numbers."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.calls: dict[int, int] = {}
        self.fail: Callable[[int, int], bool] = lambda seq, call: False

    async def __call__(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.payload["run"] != self.run:
            return
        seq = envelope.payload["seq"]
        self.calls[seq] = self.calls.get(seq, 0) + 1
        await session.execute(sa.insert(probe_effect).values(run=self.run, seq=seq, event_id=str(envelope.event_id)))
        if self.fail(seq, self.calls[seq]):
            raise RuntimeError(f"handler refuses seq {seq} (call {self.calls[seq]})")


def registry_for(handler: ProbeHandler) -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.on("probe.thing.happened", 1)(handler)
    return registry


@asynccontextmanager
async def running(runner: ConsumerRunner) -> AsyncIterator[ConsumerRunner]:
    task = asyncio.create_task(runner.run_forever())
    try:
        yield runner
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=20)


async def wait_for(predicate: Callable[[], object], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


async def applied(db: Database, run: str, seq: int) -> bool:
    """The effect of ``seq`` is committed (a handler call alone may still roll back)."""
    return seq in await effects(db, run)


def make_runner(db: Database, handler: ProbeHandler, bootstrap: str, *, group: str | None = None,
                max_attempts: int = 3, backoff_seconds: float = 0.05, stall_seconds: float = 120.0) -> ConsumerRunner:
    return ConsumerRunner(service="test", group_id=group or f"g-{uuid.uuid4().hex[:8]}", db=db,
                          registry=registry_for(handler), bootstrap=bootstrap, topics=[PROBE_TOPIC],
                          max_attempts=max_attempts, backoff_seconds=backoff_seconds, stall_seconds=stall_seconds,
                          probe_seconds=0.3, probe_timeout_seconds=2.0)


async def committed_and_end_offsets(bootstrap: str, group: str) -> tuple[dict[int, int], dict[int, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = {tp.partition: meta.offset
                     for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                     if tp.topic == PROBE_TOPIC}
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(PROBE_TOPIC, p) for p in range(3)]
        ends = {tp.partition: offset for tp, offset in (await consumer.end_offsets(tps)).items() if offset}
    finally:
        await consumer.stop()
    return committed, ends


async def test_a_redelivered_event_is_applied_once(bus_db: Database, probe: Probe) -> None:
    handler = ProbeHandler(probe.run)
    first = probe_envelope(probe.run, 1)
    await produce(probe.bootstrap, [first, probe_envelope(probe.run, 2), first])  # the broker redelivers 1
    runner = make_runner(bus_db, handler, probe.bootstrap)
    async with running(runner):
        await wait_for(lambda: handler.calls.get(2))
        await asyncio.sleep(1)
    # The same event arrives once more later (a producer retry, a replay): nothing is applied again.
    replay_runner = make_runner(bus_db, handler, probe.bootstrap, group=runner.group_id)
    await produce(probe.bootstrap, [first])
    async with running(replay_runner):
        await asyncio.sleep(3)
    assert await effects(bus_db, probe.run) == [1, 2]
    assert handler.calls == {1: 1, 2: 1}


async def test_offsets_are_committed_after_the_database_commit(bus_db: Database, probe: Probe) -> None:
    handler = ProbeHandler(probe.run)
    await produce(probe.bootstrap, [probe_envelope(probe.run, s) for s in range(5)])
    runner = make_runner(bus_db, handler, probe.bootstrap)
    async with running(runner):
        await wait_for(lambda: len(handler.calls) == 5)
        await asyncio.sleep(0.5)
    assert await effects(bus_db, probe.run) == list(range(5))
    # Everything on the topic was handled and committed, up to the end of every partition.
    committed, ends = await committed_and_end_offsets(probe.bootstrap, runner.group_id)
    assert ends and committed == ends


async def test_a_failure_is_retried_at_the_same_offset_not_skipped(bus_db: Database, probe: Probe) -> None:
    handler = ProbeHandler(probe.run)
    handler.fail = lambda seq, call: seq == 2 and call == 1  # fails once, then succeeds
    await produce(probe.bootstrap, [probe_envelope(probe.run, s) for s in range(1, 5)])
    runner = make_runner(bus_db, handler, probe.bootstrap)
    async with running(runner):
        await wait_for(lambda: handler.calls.get(4))
        await asyncio.sleep(0.5)
    assert handler.calls[2] == 2
    # The failed attempt rolled back with its transaction: the effect exists once, in order.
    assert await effects(bus_db, probe.run) == [1, 2, 3, 4]
    assert not [letter for letter in await read_dead_letters(probe.bootstrap, PROBE_DLQ)
                if letter.event.get("event_id") and probe.run in letter.value.decode()]


async def test_a_poison_event_is_dead_lettered_after_the_retries_and_the_next_events_are_handled(
    bus_db: Database, probe: Probe
) -> None:
    handler = ProbeHandler(probe.run)
    handler.fail = lambda seq, call: seq == 2  # always
    poison = probe_envelope(probe.run, 2)
    await produce(probe.bootstrap, [probe_envelope(probe.run, 1), poison, probe_envelope(probe.run, 3)])
    runner = make_runner(bus_db, handler, probe.bootstrap, max_attempts=3)
    async with running(runner):
        await wait_for(lambda: applied(bus_db, probe.run, 3))
    assert handler.calls == {1: 1, 2: 3, 3: 1}
    assert await effects(bus_db, probe.run) == [1, 3]

    letters = [letter for letter in await read_dead_letters(probe.bootstrap, PROBE_DLQ)
               if letter.event.get("event_id") == str(poison.event_id)]
    assert len(letters) == 1
    headers = letters[0].headers
    assert headers["x-attempts"] == "3"
    assert headers["x-original-topic"] == PROBE_TOPIC
    assert headers["x-consumer-group"] == runner.group_id
    assert "handler refuses seq 2" in headers["x-error"]
    assert headers["x-error-type"] == "RuntimeError"
    assert int(headers["x-original-offset"]) >= 0

    # Fixed handler + replay: the dead letter is handled, exactly once.
    handler.fail = lambda seq, call: False
    assert len(await replay_dead_letters(probe.bootstrap, letters, actor="tester")) == 1
    async with running(make_runner(bus_db, handler, probe.bootstrap, group=runner.group_id)):
        await wait_for(lambda: handler.calls.get(2) == 4)
        await asyncio.sleep(0.5)
    assert sorted(await effects(bus_db, probe.run)) == [1, 2, 3]


async def test_unreadable_bytes_go_straight_to_the_dead_letter_topic(bus_db: Database, probe: Probe) -> None:
    handler = ProbeHandler(probe.run)
    marker = f"not json {probe.run}".encode()
    await produce_raw(probe.bootstrap, marker)
    await produce(probe.bootstrap, [probe_envelope(probe.run, 7)])
    async with running(make_runner(bus_db, handler, probe.bootstrap)):
        await wait_for(lambda: handler.calls.get(7))
    letters = [letter for letter in await read_dead_letters(probe.bootstrap, PROBE_DLQ) if letter.value == marker]
    assert len(letters) >= 1
    assert letters[-1].headers["x-attempts"] == "1"


async def test_the_consumer_resumes_after_the_broker_restarts(bus_db: Database, outage_kafka: LocalKafka) -> None:
    run = str(uuid.uuid4())
    handler = ProbeHandler(run)
    runner = make_runner(bus_db, handler, outage_kafka.bootstrap)
    async with running(runner):
        await produce(outage_kafka.bootstrap, [probe_envelope(run, 1)])
        await wait_for(lambda: handler.calls.get(1))
        await wait_for(lambda: runner.state == "running")
        await asyncio.to_thread(outage_kafka.stop)
        # The consumer is alive but cut off, and says so (it used to say "running" with lag 0).
        await wait_for(lambda: runner.state == "broker unreachable")
        assert runner.health()["lag"] is None and runner.last_error
        await asyncio.to_thread(outage_kafka.start)
        await produce(outage_kafka.bootstrap, [probe_envelope(run, 2)])
        await wait_for(lambda: applied(bus_db, run, 2), timeout=90)
        await wait_for(lambda: runner.healthy)
        assert runner.last_error is None  # cleared once the cause is gone
        await wait_for(lambda: runner.health()["lag"] == 0)
    assert await effects(bus_db, run) == [1, 2]


async def test_database_outages_do_not_count_towards_dead_lettering(bus_db: Database, probe: Probe) -> None:
    handler = ProbeHandler(probe.run)
    outage = sa.exc.OperationalError("INSERT ...", {}, ConnectionRefusedError("database restarting"))

    original = handler.__call__

    async def flaky_database(session: AsyncSession, envelope: EventEnvelope) -> None:
        await original(session, envelope)
        if handler.calls.get(envelope.payload.get("seq"), 0) <= 4 and envelope.payload.get("run") == probe.run:
            raise outage

    registry = HandlerRegistry()
    registry.on("probe.thing.happened", 1)(flaky_database)
    runner = ConsumerRunner(service="test", group_id=f"g-{uuid.uuid4().hex[:8]}", db=bus_db, registry=registry,
                            bootstrap=probe.bootstrap, topics=[PROBE_TOPIC], max_attempts=2, backoff_seconds=0.05)
    await produce(probe.bootstrap, [probe_envelope(probe.run, 1)])
    async with running(runner):
        await wait_for(lambda: handler.calls.get(1) == 5)
        await asyncio.sleep(0.5)
    # Five attempts against a limit of two, yet applied once and never dead-lettered.
    assert await effects(bus_db, probe.run) == [1]
    assert not [x for x in await read_dead_letters(probe.bootstrap, PROBE_DLQ) if probe.run.encode() in x.value]


async def test_scaling_out_mid_batch_hands_partitions_over_cleanly(bus_db: Database, probe: Probe) -> None:
    class SlowHandler(ProbeHandler):
        async def __call__(self, session: AsyncSession, envelope: EventEnvelope) -> None:
            await asyncio.sleep(0.05)  # a batch is still being worked on when the second consumer joins
            await super().__call__(session, envelope)

    handler = SlowHandler(probe.run)
    keys = [f"k{i}" for i in range(7)]
    await produce(probe.bootstrap, [probe_envelope(probe.run, i, key=keys[i % 7]) for i in range(120)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    first, second = (make_runner(bus_db, handler, probe.bootstrap, group=group) for _ in range(2))
    async with running(first):
        await wait_for(lambda: len(handler.calls) >= 10)
        async with running(second):
            await wait_for(lambda: len(handler.calls) == 120, timeout=120)
            await asyncio.sleep(1)
    applied = await effects(bus_db, probe.run)
    assert sorted(applied) == list(range(120)), "an event was lost or applied twice"
    for k in range(7):  # one customer's events were applied in their order, across the hand-over
        of_key = [seq for seq in applied if seq % 7 == k]
        assert of_key == sorted(of_key)
    for runner in (first, second):
        assert "IllegalStateError" not in (runner.last_error or "")


def keys_on_different_partitions() -> tuple[str, str]:
    """Two customer keys that the producers' partitioner (murmur2) puts on different partitions."""
    partitioner = DefaultPartitioner()
    partitions = [0, 1, 2]
    by_partition: dict[int, str] = {}
    for i in range(100):
        key = f"customer-{i}"
        by_partition.setdefault(partitioner(key.encode(), partitions, partitions), key)
        if len(by_partition) >= 2:
            break
    first, second = list(by_partition.values())[:2]
    return first, second


async def test_a_poison_event_holds_back_only_its_own_partition(bus_db: Database, probe: Probe) -> None:
    poison_key, other_key = keys_on_different_partitions()
    applied_at_attempt: dict[int, list[int]] = {}  # poison attempt -> events of the other key committed by then

    class PoisonAware(ProbeHandler):
        async def __call__(self, session: AsyncSession, envelope: EventEnvelope) -> None:
            if envelope.payload["run"] == self.run and envelope.payload["seq"] == 0:
                rows = await session.execute(sa.select(probe_effect.c.seq).where(probe_effect.c.run == self.run))
                applied_at_attempt[self.calls.get(0, 0) + 1] = sorted(seq for (seq,) in rows)
            await super().__call__(session, envelope)

    handler = PoisonAware(probe.run)
    handler.fail = lambda seq, call: seq == 0  # always
    poison = probe_envelope(probe.run, 0, key=poison_key)
    # Retries are a second, then two, then four apart: the other partition has seven seconds to be handled.
    runner = make_runner(bus_db, handler, probe.bootstrap, max_attempts=4, backoff_seconds=1.0)
    async with running(runner):
        await produce(probe.bootstrap, [poison])
        await wait_for(lambda: handler.calls.get(0))
        await produce(probe.bootstrap, [probe_envelope(probe.run, seq, key=other_key) for seq in range(1, 6)])
        await wait_for(lambda: handler.calls.get(0) == 4 and len(applied_at_attempt) == 4)
        await wait_for(lambda: runner.state == "running")  # the poison event is dead-lettered, nothing waits

    # Order of effects: the other partition's events were applied while the poison one was being
    # retried (they used to wait behind all its attempts), each in order, once.
    assert applied_at_attempt[1] == []
    assert applied_at_attempt[4] == [1, 2, 3, 4, 5]
    assert await effects(bus_db, probe.run) == [1, 2, 3, 4, 5]
    assert handler.calls == {0: 4, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    letters = [x for x in await read_dead_letters(probe.bootstrap, PROBE_DLQ)
               if x.event.get("event_id") == str(poison.event_id)]
    assert len(letters) == 1 and letters[0].headers["x-attempts"] == "4"


async def test_a_consumer_that_stops_making_progress_is_reported_stalled_and_rebuilt(
    bus_db: Database, probe: Probe
) -> None:
    handler = ProbeHandler(probe.run)
    runner = make_runner(bus_db, handler, probe.bootstrap, stall_seconds=2.0)
    restarts = REGISTRY.get_sample_value("pelanggan_consumer_restarts_total",
                                         {"service": "test", "group": runner.group_id, "reason": "stalled"})
    async with running(runner):
        await produce(probe.bootstrap, [probe_envelope(probe.run, 1)])
        await wait_for(lambda: applied(bus_db, probe.run, 1))
        # Alive, no error, no fetches (as after a broker restart, aiokafka#1154): paused behind its back.
        consumer = runner._consumer
        assert consumer is not None
        consumer.pause(*consumer.assignment())
        await produce(probe.bootstrap, [probe_envelope(probe.run, 2)])
        await wait_for(lambda: runner.stalls == 1)
        await wait_for(lambda: applied(bus_db, probe.run, 2))  # the rebuilt consumer reads on
        await wait_for(lambda: runner.healthy)
    assert await effects(bus_db, probe.run) == [1, 2]
    assert runner.health()["stalls"] == 1
    assert restarts is None
    assert REGISTRY.get_sample_value("pelanggan_consumer_restarts_total",
                                     {"service": "test", "group": runner.group_id, "reason": "stalled"}) == 1
