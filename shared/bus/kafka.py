"""Kafka clients built the same way everywhere, with every wait bounded.

aiokafka's idempotent producer never expires a batch while the broker is down, so ``send`` and
``stop`` can wait forever (aiokafka#1101, #1013): every call here has a timeout, and a producer
that timed out is thrown away rather than reused (an OutOfOrderSequenceNumber after an outage
is fatal for that producer, aiokafka#1017).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def start_producer(bootstrap: str, *, client_id: str, timeout: float = 10.0,
                         idempotent: bool = True) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=idempotent,
        acks="all",
        # No linger: the relay awaits each row of a key before the next, so a linger is added to every
        # event of a busy customer (2 ms cut one key's rate from ~1300/s to ~300/s in
        # scripts/bench_relay.py); rows of different keys still share batches while a request is in flight.
        linger_ms=0,
        request_timeout_ms=int(timeout * 1000),
        metadata_max_age_ms=30_000,
    )
    try:
        await asyncio.wait_for(producer.start(), timeout)
    except BaseException:
        await stop_quietly(producer)
        raise
    return producer


async def stop_quietly(producer: AIOKafkaProducer | None, timeout: float = 5.0) -> None:
    if producer is None:
        return
    try:
        await asyncio.wait_for(producer.stop(), timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("kafka producer did not stop cleanly", extra={"error": repr(exc)})


async def ensure_topics(bootstrap: str, topics: list[str], *, partitions: int = 3, replication: int = 1,
                        timeout: float = 15.0) -> None:
    """Create missing topics (production brokers usually refuse auto-creation)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await asyncio.wait_for(admin.start(), timeout)
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout))
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            try:
                await asyncio.wait_for(
                    admin.create_topics([NewTopic(t, partitions, replication) for t in missing]), timeout
                )
            except TopicAlreadyExistsError:
                pass  # another replica created it first
    finally:
        await asyncio.wait_for(admin.close(), timeout)
