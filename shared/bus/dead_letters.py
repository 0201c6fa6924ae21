"""Listing and replaying dead letters (``pelanggan dlq list|replay``).

Replay republishes the original bytes, key and headers to the original topic. Every consumer
group subscribed there sees the event again; those that had already applied it skip it through
their inbox, the one that dead-lettered it gets another chance.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.bus.consumer import decode_headers, envelope_summary
from shared.bus.kafka import start_producer, stop_quietly

_DLQ_HEADERS_DROPPED_ON_REPLAY = {"x-error", "x-error-type", "x-error-trace", "x-attempts",
                                  "x-dead-lettered-at"}


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        return envelope_summary(self.value)

    @property
    def original_topic(self) -> str:
        return self.headers.get("x-original-topic") or self.topic.removesuffix(".dlq")


async def read_dead_letters(bootstrap: str, dlq_topic: str, *, limit: int = 1000,
                            timeout: float = 15.0) -> list[DeadLetter]:
    """Everything currently in ``dlq_topic``, oldest first per partition (reads, commits nothing)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                client_id=f"dlq-reader-{uuid.uuid4().hex[:8]}")
    await asyncio.wait_for(consumer.start(), timeout)
    try:
        partitions = consumer.partitions_for_topic(dlq_topic)
        if not partitions:
            await asyncio.wait_for(consumer._client.force_metadata_update(), timeout)
            partitions = consumer.partitions_for_topic(dlq_topic) or set()
        tps = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while remaining and len(letters) < limit and loop.time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        letters.append(DeadLetter(record.topic, record.partition, record.offset, record.key,
                                                  record.value, decode_headers(record.headers)))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return letters[:limit]
    finally:
        await asyncio.wait_for(consumer.stop(), timeout)


async def replay_dead_letters(bootstrap: str, letters: list[DeadLetter], *, timeout: float = 15.0) -> int:
    """Republish ``letters`` to their original topics; returns how many were sent."""
    if not letters:
        return 0
    producer = await start_producer(bootstrap, client_id="dlq-replay", timeout=timeout)
    try:
        for letter in letters:
            headers = [(k, v.encode()) for k, v in letter.headers.items()
                       if k not in _DLQ_HEADERS_DROPPED_ON_REPLAY]
            headers.append(("x-replayed-from", f"{letter.topic}/{letter.partition}/{letter.offset}".encode()))
            await asyncio.wait_for(
                producer.send_and_wait(letter.original_topic, letter.value, key=letter.key, headers=headers),
                timeout,
            )
    finally:
        await stop_quietly(producer)
    return len(letters)
