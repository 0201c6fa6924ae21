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
        # No linger: records sent while a request is in flight share the next batch anyway (the
        # relay pipelines its sends), and a lone event is not held back waiting for company.
        linger_ms=0,
        # Up to 256 KiB per partition and request (default 16 KiB): a relay tick's rows travel in one
        # or two requests instead of a dozen. Below the broker's default message.max.bytes (1 MiB).
        max_batch_size=256 * 1024,
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
    """Stop, waiting at most ``timeout`` for pending batches; then abandon them.

    ``stop()`` first waits for the accumulator to flush, which never happens while the broker is
    away (the idempotent producer never expires a batch). Cancelling that wait leaves the sender
    task and its connections alive, retrying forever: one leaked producer per failed relay tick
    during an outage. So after the timeout the sender and the client are closed outright; the
    abandoned records stay pending in the outbox and go again with a new producer.
    """
    if producer is None:
        return
    try:
        await asyncio.wait_for(producer.stop(), timeout)
        return
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("kafka producer did not stop cleanly; abandoning its pending records",
                    extra={"error": repr(exc)})
    sender = getattr(producer, "_sender", None)  # aiokafka internals: no public way to abandon a batch
    try:
        if sender is not None:
            await asyncio.wait_for(sender.close(), timeout)
        await asyncio.wait_for(producer.client.close(), timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("kafka producer could not be closed", extra={"error": repr(exc)})


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
