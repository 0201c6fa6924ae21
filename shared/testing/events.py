"""Watching what a service published: every record of a topic, read by one background consumer."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.bus.kafka import start_producer, stop_quietly
from shared.events.envelope import EventEnvelope
from shared.events.registry import EventContract, service_topic


@dataclass
class Published:
    key: str
    headers: dict[str, str]
    envelope: dict[str, Any]

    @property
    def type(self) -> str:
        return self.envelope["type"]

    @property
    def payload(self) -> dict[str, Any]:
        return self.envelope["payload"]


@dataclass
class EventLog:
    records: list[Published] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def of_type(self, event_type: str, **payload: Any) -> list[Published]:
        return [r for r in self.records if r.type == event_type
                and all(r.payload.get(k) == v for k, v in payload.items())]

    def about(self, customer_id: str) -> list[Published]:
        return [r for r in self.records if r.key == customer_id or r.envelope.get("customer_id") == customer_id
                or r.envelope.get("aggregate_id") == customer_id]

    async def wait_for(self, predicate: Callable[[Published], bool], *, count: int = 1,
                       timeout: float = 20.0) -> list[Published]:
        """The matching records once there are ``count`` of them; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        async with self.changed:
            while True:
                found = [r for r in self.records if predicate(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} matching events, saw {len(found)}: {found}")
                try:
                    await asyncio.wait_for(self.changed.wait(), remaining)
                except TimeoutError:
                    pass

    async def wait_type(self, event_type: str, *, count: int = 1, timeout: float = 20.0,
                        **payload: Any) -> list[Published]:
        return await self.wait_for(lambda r: r.type == event_type
                                   and all(r.payload.get(k) == v for k, v in payload.items()),
                                   count=count, timeout=timeout)

    async def settle(self, seconds: float = 1.5) -> None:
        """Give the relay time to publish anything still pending (for 'no event' checks)."""
        await asyncio.sleep(seconds)


@asynccontextmanager
async def recorded(bootstrap: str, topic: str) -> AsyncIterator[EventLog]:
    """An EventLog of ``topic`` from its earliest offset, kept current until the block ends."""
    log = EventLog()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"test-log-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()

    async def pump() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            if not batches:
                continue
            async with log.changed:
                for records in batches.values():
                    log.records.extend(
                        Published(key=record.key.decode() if record.key else "",
                                  headers={k: v.decode() for k, v in record.headers or ()},
                                  envelope=json.loads(record.value))
                        for record in records
                    )
                log.changed.notify_all()

    task = asyncio.create_task(pump(), name=f"event-log-{topic}")
    for _ in range(300):  # until partitions are assigned, so nothing published from now on is missed
        if consumer.assignment():
            break
        await asyncio.sleep(0.1)
    try:
        yield log
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(consumer.stop(), 15)


class Bus:
    """Publishes events as another service's relay would (envelope, key, headers), for a consumer's tests."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer

    async def publish(self, contract: EventContract, *, key: str, aggregate_id: str,
                      occurred_at: datetime | None = None, event_id: uuid.UUID | None = None,
                      customer_id: str | None = None) -> EventEnvelope:
        envelope = EventEnvelope(
            event_id=event_id or uuid.uuid4(), type=contract.event_type, version=contract.event_version,
            occurred_at=occurred_at or datetime.now().astimezone(), producer=contract.event_type.split(".")[0],
            aggregate_id=aggregate_id, customer_id=customer_id, correlation_id=str(uuid.uuid4()),
            payload=contract.model_dump(mode="json"))
        await self.send(envelope, key=key)
        return envelope

    async def send(self, envelope: EventEnvelope, *, key: str) -> None:
        topic = service_topic(envelope.producer)
        await self.producer.send_and_wait(topic, envelope.to_bytes(), key=key.encode(),
                                          headers=[("event-type", envelope.type.encode()),
                                                   ("event-id", str(envelope.event_id).encode())])


@asynccontextmanager
async def bus_for(bootstrap: str, *, client_id: str) -> AsyncIterator[Bus]:
    """A :class:`Bus` with a producer of its own, stopped on exit."""
    producer = await start_producer(bootstrap, client_id=client_id)
    try:
        yield Bus(producer)
    finally:
        await stop_quietly(producer)
