"""The outbox relay: publishes committed outbox rows to Kafka, in order per key, then marks them.

Guarantees and how they are kept:
- Nothing is lost: a row is marked published only after the broker acknowledged it (acks=all);
  while the broker is down rows stay pending and the relay backs off and retries.
- Order per key: rows of one key are sent one after another, each awaited; the first failure
  stops that key for this tick, so a later row never overtakes an earlier one. Different keys
  are sent concurrently.
- One key cannot stall the others: a tick reads at most ``rows_per_key`` rows of each key, and a
  key that fails while others go through is held back with a backoff of its own. Only when
  nothing goes through (the broker is away) does the whole relay back off.
- Pending is a per-row flag (``published_at IS NULL``), not an id watermark, so a row whose
  transaction commits after a higher id was published is still found.
- Several replicas on PostgreSQL: a tick runs under a transaction-scoped advisory lock, so one
  relay publishes at a time (two relays splitting one key's rows could reorder them). SQLite is
  the one-machine default and has exactly one relay per database file.
- A crash after the broker's ack and before the mark re-sends the row: consumers' inboxes
  absorb the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.kafka import stop_quietly
from shared.bus.tables import OutboxMessage
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.observability.metrics import OUTBOX_BACKLOG, OUTBOX_FAILURES, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], Awaitable[AIOKafkaProducer]]
_RELAY_LOCK = zlib.crc32(b"pelanggan-outbox-relay")


@dataclass
class PendingRow:
    id: int
    event_id: str
    event_type: str
    topic: str
    key: str
    envelope: str


@dataclass
class TickResult:
    published: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    failed_keys: set[str] = field(default_factory=set)
    published_keys: set[str] = field(default_factory=set)


class OutboxRelay:
    def __init__(
        self,
        *,
        db: Database,
        producer_factory: ProducerFactory,
        service: str,
        batch_size: int = 200,
        rows_per_key: int = 50,
        idle_seconds: float = 0.5,
        send_timeout: float = 10.0,
        max_backoff: float = 30.0,
        key_concurrency: int = 64,
    ) -> None:
        self.db = db
        self.producer_factory = producer_factory
        self.service = service
        self.batch_size = batch_size
        self.rows_per_key = rows_per_key
        self.idle_seconds = idle_seconds
        self.send_timeout = send_timeout
        self.max_backoff = max_backoff
        self._key_slots = asyncio.Semaphore(key_concurrency)
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        # Keys whose own rows fail while others go through (say, their partition has no leader):
        # held back with a backoff of their own, so they neither stall other keys nor the relay.
        self._held: dict[str, tuple[int, float]] = {}  # key -> (failures, retry at, monotonic)
        self.last_error: str | None = None

    def notify(self) -> None:
        """Hint that rows were committed: publish now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> TickResult:
        """Publish up to one batch of pending rows; never raises for broker trouble."""
        if self.db.is_postgres:
            async with self.db.transaction() as session:
                got_lock = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
                if not got_lock:
                    return TickResult()
                rows = await self._pending(session)
                result = await self._publish(rows)
                await self._record(session, result)
            self._hold_failing_keys(result)
        else:
            # Not one transaction on SQLite: it would hold the database's only write lock
            # while waiting for the broker, stalling every API write during an outage.
            async with self.db.transaction() as session:
                rows = await self._pending(session)
            result = await self._publish(rows)
            if result.published or result.failed:
                async with self.db.transaction() as session:
                    await self._record(session, result)
            self._hold_failing_keys(result)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(result.published))
        if result.failed:
            OUTBOX_FAILURES.labels(self.service).inc()
        return result

    async def backlog(self) -> int:
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.published_at.is_(None))
            )
        OUTBOX_BACKLOG.labels(self.service).set(count or 0)
        return count or 0

    async def run_forever(self) -> None:
        failures = 0
        while True:
            self._wake.clear()  # a commit during the tick sets it again: no wake-up is lost
            try:
                result = await self.run_once()
                await self.backlog()
            except (OSError, KafkaError, SQLAlchemyError) as exc:  # database unreachable and the like
                result = TickResult(failed={-1: repr(exc)})
                log.warning("outbox relay tick failed", extra={"error": repr(exc)})
            except Exception as exc:  # a bug must not end the relay silently: log it loudly, back off
                result = TickResult(failed={-1: repr(exc)})
                log.exception("outbox relay tick crashed")
            if result.failed and not result.published:  # nothing went through: the broker is away
                failures += 1
                delay = min(self.max_backoff, 0.5 * 2 ** min(failures, 10))
            elif result.published:  # there may be more: look again at once
                failures, delay = 0, 0.0
            else:
                failures, delay = 0, self.idle_seconds
            if delay:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        await stop_quietly(producer)

    def _hold_failing_keys(self, result: TickResult) -> None:
        for key in result.published_keys - result.failed_keys:
            self._held.pop(key, None)
        if not result.published:
            return  # everything failed: the relay as a whole backs off, no key is to blame
        now = time.monotonic()
        for key in result.failed_keys:
            failures = self._held.get(key, (0, 0.0))[0] + 1
            self._held[key] = (failures, now + min(self.max_backoff, 0.5 * 2 ** min(failures, 10)))

    async def _pending(self, session: AsyncSession) -> list[PendingRow]:
        """The oldest pending rows, at most ``rows_per_key`` of each key, skipping held keys.

        Capping rows per key keeps one stuck key from filling every batch (rows of a key are sent
        one by one and stop at its first failure, so more of them per tick would not be sent).
        """
        now = time.monotonic()
        held = [key for key, (_, retry_at) in self._held.items() if retry_at > now]
        pending = select(
            OutboxMessage.id,
            OutboxMessage.event_id,
            OutboxMessage.event_type,
            OutboxMessage.topic,
            OutboxMessage.key,
            OutboxMessage.envelope,
            func.row_number().over(partition_by=OutboxMessage.key, order_by=OutboxMessage.id).label("nth"),
        ).where(OutboxMessage.published_at.is_(None))
        if held:  # a held key's later rows wait with it, so its order is kept
            pending = pending.where(OutboxMessage.key.not_in(held))
        ranked = pending.subquery()
        statement = (
            select(ranked.c.id, ranked.c.event_id, ranked.c.event_type, ranked.c.topic, ranked.c.key,
                   ranked.c.envelope)
            .where(ranked.c.nth <= self.rows_per_key)
            .order_by(ranked.c.id)
            .limit(self.batch_size)
        )
        return [PendingRow(*row) for row in (await session.execute(statement)).all()]

    async def _publish(self, rows: list[PendingRow]) -> TickResult:
        result = TickResult()
        if not rows:
            return result
        try:
            producer = await self._ensure_producer()
        except (TimeoutError, KafkaError, OSError) as exc:
            self._note_failure(exc)
            result.failed[rows[0].id] = repr(exc)
            return result
        by_key: dict[str, list[PendingRow]] = defaultdict(list)
        for row in rows:
            by_key[row.key].append(row)
        await asyncio.gather(*(self._publish_key(producer, key_rows, result) for key_rows in by_key.values()))
        result.published.sort()
        if result.failed:
            # The producer may hold batches it can never deliver in order again: start afresh.
            await self.close()
        else:
            self.last_error = None
        return result

    async def _publish_key(self, producer: AIOKafkaProducer, rows: list[PendingRow], result: TickResult) -> None:
        async with self._key_slots:
            for row in rows:
                headers = [("event-type", row.event_type.encode()), ("event-id", row.event_id.encode())]
                try:
                    await asyncio.wait_for(
                        producer.send_and_wait(row.topic, row.envelope.encode(), key=row.key.encode(), headers=headers),
                        self.send_timeout,
                    )
                except (TimeoutError, KafkaError, OSError) as exc:
                    self._note_failure(exc)
                    result.failed[row.id] = repr(exc)
                    result.failed_keys.add(row.key)
                    return  # later rows of this key wait for this one
                result.published.append(row.id)
                result.published_keys.add(row.key)

    async def _record(self, session: AsyncSession, result: TickResult) -> None:
        if result.published:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(result.published)).values(published_at=utcnow())
            )
        for row_id, error in result.failed.items():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(attempts=OutboxMessage.attempts + 1, last_error=error[:2000])
            )

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await self.producer_factory()
        return self._producer

    def _note_failure(self, exc: BaseException) -> None:
        if self.last_error != repr(exc):
            log.warning("outbox publish failed; rows stay pending", extra={"service": self.service, "error": repr(exc)})
        self.last_error = repr(exc)
