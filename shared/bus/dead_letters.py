"""Listing and replaying dead letters (``pelanggan dlq list|replay``).

Replay republishes the original bytes, key and headers to the original topic and partition (the
``x-original-partition`` header: the event rejoins its key's partition even when an outside
producer's partitioner put it elsewhere than ours would). Every consumer group subscribed there
sees the event again; those that had already applied it skip it through their inbox, the one that
dead-lettered it gets another chance.

The dead-letter headers of the letter (error, attempts, original coordinates, group) are not
carried over: should the event be dead-lettered again, its new letter has exactly one of each,
plus ``x-replayed-from/at/by`` naming the letter it was replayed from.

Each replay is recorded in ``<dead-letter topic>.replays`` (one partition, keyed by the letter's
coordinates ``topic/partition/offset``): who replayed which letter, when, and where it went.
``dlq list`` shows it next to each letter. The record is written right after the republish, so it
lists what was really republished.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from shared.bus.consumer import DEAD_LETTER_HEADERS, decode_headers, envelope_summary
from shared.bus.kafka import ensure_topics, start_producer, stop_quietly
from shared.db.types import utcnow

REPLAY_HEADERS = frozenset({"x-replayed-from", "x-replayed-at", "x-replayed-by"})


def replays_topic(dlq_topic: str) -> str:
    return f"{dlq_topic}.replays"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]  # the last value of each header
    raw_headers: tuple[tuple[str, bytes], ...] = ()  # every header, in order

    @property
    def event(self) -> dict[str, Any]:
        return envelope_summary(self.value)

    @property
    def coordinates(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def original_topic(self) -> str:
        return self.headers.get("x-original-topic") or self.topic.removesuffix(".dlq")

    @property
    def original_partition(self) -> int | None:
        try:
            return int(self.headers["x-original-partition"])
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class Replay:
    letter: str  # the dead letter's coordinates, topic/partition/offset
    event_id: str | None
    replayed_at: str  # ISO-8601 UTC
    replayed_by: str
    republished_to: str  # topic/partition/offset of the new record


async def _read_all(bootstrap: str, topic: str, *, limit: int, timeout: float) -> list[ConsumerRecord]:
    """Everything currently in ``topic``, oldest first per partition (reads, commits nothing)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                client_id=f"dlq-reader-{uuid.uuid4().hex[:8]}")
    await asyncio.wait_for(consumer.start(), timeout)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await asyncio.wait_for(consumer._client.force_metadata_update(), timeout)
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while remaining and len(records) < limit and loop.time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, batch_records in batch.items():
                for record in batch_records:
                    if record.offset < ends[tp]:
                        records.append(record)
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return records[:limit]
    finally:
        await asyncio.wait_for(consumer.stop(), timeout)


async def read_dead_letters(bootstrap: str, dlq_topic: str, *, limit: int = 1000,
                            timeout: float = 15.0) -> list[DeadLetter]:
    """Everything currently in ``dlq_topic``, oldest first per partition."""
    return [
        DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, decode_headers(r.headers),
                   tuple(r.headers or ()))
        for r in await _read_all(bootstrap, dlq_topic, limit=limit, timeout=timeout)
    ]


async def read_replays(bootstrap: str, dlq_topic: str, *, timeout: float = 15.0) -> dict[str, list[Replay]]:
    """The recorded replays of ``dlq_topic``'s letters, by the letter's coordinates, oldest first."""
    replays: dict[str, list[Replay]] = defaultdict(list)
    for record in await _read_all(bootstrap, replays_topic(dlq_topic), limit=1_000_000, timeout=timeout):
        try:
            replay = Replay(**json.loads(record.value))
        except (ValueError, TypeError):
            continue  # not ours: the topic is readable by anyone, trust nothing in it
        replays[replay.letter].append(replay)
    return dict(replays)


async def replay_dead_letters(bootstrap: str, letters: list[DeadLetter], *, actor: str,
                              timeout: float = 15.0) -> list[Replay]:
    """Republish ``letters`` to their original topic and partition, recording each replay."""
    if not letters:
        return []
    await ensure_topics(bootstrap, sorted({replays_topic(x.topic) for x in letters}), partitions=1,
                        timeout=timeout)
    producer = await start_producer(bootstrap, client_id="dlq-replay", timeout=timeout)
    replays: list[Replay] = []
    try:
        for letter in letters:
            replayed_at = utcnow().isoformat()
            headers = [(k, v) for k, v in letter.raw_headers
                       if k not in DEAD_LETTER_HEADERS and k not in REPLAY_HEADERS]
            headers += [("x-replayed-from", letter.coordinates.encode()), ("x-replayed-at", replayed_at.encode()),
                        ("x-replayed-by", actor.encode())]
            partition = letter.original_partition
            if partition is not None and partition not in await producer.partitions_for(letter.original_topic):
                partition = None  # the topic was recreated smaller: the key decides
            sent = await asyncio.wait_for(
                producer.send_and_wait(letter.original_topic, letter.value, key=letter.key, partition=partition,
                                       headers=headers),
                timeout,
            )
            replay = Replay(letter=letter.coordinates, event_id=letter.event.get("event_id"),
                            replayed_at=replayed_at, replayed_by=actor,
                            republished_to=f"{sent.topic}/{sent.partition}/{sent.offset}")
            await asyncio.wait_for(
                producer.send_and_wait(replays_topic(letter.topic), json.dumps(asdict(replay)).encode(),
                                       key=letter.coordinates.encode()),
                timeout,
            )
            replays.append(replay)
    finally:
        await stop_quietly(producer)
    return replays
