"""Replaying dead letters against the real broker and PostgreSQL: back where they came from, recorded."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from shared.bus.dead_letters import read_dead_letters, read_replays, replay_dead_letters
from shared.db.engine import Database
from tests.bus.conftest import PROBE_DLQ, PROBE_TOPIC, Probe, probe_envelope
from tests.bus.test_consumer import ProbeHandler, make_runner, running, wait_for

pytestmark = pytest.mark.integration

DEAD_LETTER_HEADERS = ("x-error", "x-error-type", "x-error-trace", "x-attempts", "x-original-topic",
                       "x-original-partition", "x-original-offset", "x-consumer-group", "x-dead-lettered-at")


async def letters_of(bootstrap: str, event_id: str) -> list:  # type: ignore[type-arg]
    return [x for x in await read_dead_letters(bootstrap, PROBE_DLQ) if x.event.get("event_id") == event_id]


async def record_at(bootstrap: str, coordinates: str):  # type: ignore[no-untyped-def]
    topic, partition, offset = coordinates.rsplit("/", 2)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, int(partition))
        consumer.assign([tp])
        consumer.seek(tp, int(offset))
        return await consumer.getone()
    finally:
        await consumer.stop()


async def test_a_replayed_letter_goes_back_to_its_partition_and_a_second_letter_has_one_of_each_header(
    bus_db: Database, probe: Probe
) -> None:
    poison = probe_envelope(probe.run, 1, key="customer-7")
    hashed = DefaultPartitioner()(b"customer-7", [0, 1, 2], [0, 1, 2])
    elsewhere = (hashed + 1) % 3  # as an outside producer with another partitioner would place it
    producer = AIOKafkaProducer(bootstrap_servers=probe.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(PROBE_TOPIC, poison.to_bytes(), key=b"customer-7", partition=elsewhere)
    finally:
        await producer.stop()

    handler = ProbeHandler(probe.run)
    handler.fail = lambda seq, call: True  # still broken when replayed
    runner = make_runner(bus_db, handler, probe.bootstrap, max_attempts=2)
    event_id = str(poison.event_id)
    async with running(runner):
        await wait_for(lambda: letters_of(probe.bootstrap, event_id))
        [first] = await letters_of(probe.bootstrap, event_id)
        assert first.original_partition == elsewhere

        [replay] = await replay_dead_letters(probe.bootstrap, [first], actor="alice")
        await wait_for(lambda: handler.calls.get(1) == 4)  # two attempts, then two more after the replay
        await wait_for(lambda: letter_count(probe.bootstrap, event_id, at_least=2))

    republished = await record_at(probe.bootstrap, replay.republished_to)
    assert republished.partition == elsewhere, "the replay went to the partition of the key's hash"
    replay_headers = [k for k, _ in republished.headers]
    assert not set(replay_headers) & set(DEAD_LETTER_HEADERS), "stale dead-letter headers were republished"

    second = (await letters_of(probe.bootstrap, event_id))[-1]
    names = [k for k, _ in second.raw_headers]
    for header in (*DEAD_LETTER_HEADERS, "x-replayed-from", "x-replayed-by", "x-replayed-at"):
        assert names.count(header) == 1, f"{header} appears {names.count(header)} times"
    assert second.headers["x-original-partition"] == str(elsewhere)
    assert second.headers["x-original-offset"] == str(republished.offset)
    assert second.headers["x-replayed-from"] == first.coordinates
    assert second.headers["x-replayed-by"] == "alice"

    recorded = await read_replays(probe.bootstrap, PROBE_DLQ)
    assert recorded[first.coordinates] == [replay]
    assert replay.replayed_by == "alice" and replay.event_id == event_id
    assert second.coordinates not in recorded


async def letter_count(bootstrap: str, event_id: str, *, at_least: int) -> bool:
    return len(await letters_of(bootstrap, event_id)) >= at_least


def test_replay_records_are_keyed_by_the_letters_coordinates() -> None:
    from shared.bus.dead_letters import DeadLetter, replays_topic

    letter = DeadLetter("a.events.dlq", 2, 17, b"k", b"{}", {"x-original-partition": "1"})
    assert letter.coordinates == "a.events.dlq/2/17"
    assert letter.original_partition == 1
    assert DeadLetter("a.events.dlq", 0, 0, None, b"", {"x-original-partition": "x"}).original_partition is None
    assert replays_topic("a.events.dlq") == "a.events.dlq.replays"
