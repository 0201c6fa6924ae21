"""The outbox relay: publishes committed outbox rows to Kafka, in order per key, then marks them.

Guarantees and how they are kept:
- Nothing is lost: a row is marked published only after the broker acknowledged it (acks=all);
  while the broker is down rows stay pending and the relay backs off and retries.
- Order per key, with the sends pipelined: the rows of a tick are handed to the producer in id
  order without awaiting each one, then every delivery is awaited. A key's rows go to one
  partition, and the idempotent producer delivers a partition's batches in order, one request at
  a time, retrying a failed request before the next; if a batch fails for good, the broker
  refuses every later batch of that partition (OutOfOrderSequenceNumber: the sequence has a gap),
  so nothing overtakes it. The relay marks published, per key, only the rows up to the first one
  that was not acknowledged; the rest stay pending and go again, in order, with a new producer
  (an OutOfOrderSequenceNumber is fatal for a producer, aiokafka#1017).
- One key cannot stall the others: a key that fails while others go through is held back with a
  backoff of its own. When nothing goes through, the next tick takes at most ``rows_per_key``
  rows of each pending key, so a stuck key that filled the batch shows itself as the one that
  fails; only when that fails too (the broker is away) does the whole relay back off.
- Pending is a per-row flag (``published_at IS NULL``), not an id watermark, so a row whose
  transaction commits after a higher id was published is still found.
- Several replicas on PostgreSQL: a tick runs under a transaction-scoped advisory lock, so one
  relay publishes at a time (two relays splitting one key's rows could reorder them). SQLite is
  the one-machine default and has exactly one relay per database file.
- A crash after the broker's ack and before the mark re-sends the row: consumers' inboxes
  absorb the duplicate.
- Throughput: a tick publishes batch after batch (for up to ``tick_seconds``) and overlaps the
  database with the broker: while one batch is on its way, the previous one is marked and the
  next one read. Statements are Core, on the table (no ORM bookkeeping on the hot path).
- Cheap when idle: a commit that wrote events wakes the relay at once (``notify``); otherwise it
  probes for a pending row through the partial index, less and less often while nothing comes
  (the poll is the safety net for rows committed by other processes). While the broker is away,
  or another replica holds the lock, a wake-up does not cut the wait short. The backlog is counted at most every
  ``backlog_seconds``, not on every tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.kafka import stop_quietly
from shared.bus.tables import OutboxMessage
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.observability.metrics import OUTBOX_BACKLOG, OUTBOX_FAILURES, OUTBOX_OLDEST_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

# Core statements on the table, not the ORM entity: the relay's hot path has no use for the ORM's
# per-statement bookkeeping (an ORM UPDATE ... WHERE id = ANY(...) re-selected the rows to sync a session).
outbox = OutboxMessage.__table__

ProducerFactory = Callable[[], Awaitable[AIOKafkaProducer]]
_RELAY_LOCK = zlib.crc32(b"pelanggan-outbox-relay")
_PUBLISH_ERRORS = (TimeoutError, KafkaError, OSError)


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
    failed: dict[int, str] = field(default_factory=dict)  # the first row of each key that failed
    failed_keys: set[str] = field(default_factory=set)
    published_keys: set[str] = field(default_factory=set)
    contended: bool = False  # another relay held the lock: it is publishing


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_created_at: datetime | None
    counted_at: float  # monotonic


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
        max_idle_seconds: float = 10.0,
        send_timeout: float = 10.0,
        max_backoff: float = 30.0,
        backlog_seconds: float = 10.0,
        tick_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.producer_factory = producer_factory
        self.service = service
        self.batch_size = batch_size
        self.rows_per_key = rows_per_key
        self.idle_seconds = idle_seconds
        self.max_idle_seconds = max(idle_seconds, max_idle_seconds)
        self.send_timeout = send_timeout
        self.max_backoff = max_backoff
        self.backlog_seconds = backlog_seconds
        self.tick_seconds = tick_seconds
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        # Keys whose own rows fail while others go through (say, their partition has no leader):
        # held back with a backoff of their own, so they neither stall other keys nor the relay.
        self._held: dict[str, tuple[int, float]] = {}  # key -> (failures, retry at, monotonic)
        self._spread_keys = False  # the last tick sent nothing: take a few rows of every key next
        self._failures = 0  # ticks in a row in which nothing went through
        self.last_error: str | None = None
        self.last_backlog: Backlog | None = None

    def notify(self) -> None:
        """Hint that rows were committed: publish now instead of at the next poll."""
        self._wake.set()

    @property
    def state(self) -> str:
        """"ok", "retrying" (some keys held back) or "unavailable" (nothing goes through)."""
        if self._failures:
            return "unavailable"
        now = time.monotonic()
        if any(retry_at > now for _, retry_at in self._held.values()):
            return "retrying"
        return "ok"

    # ----- one tick ----------------------------------------------------------------------
    async def run_once(self) -> TickResult:
        """Publish pending rows, batch after batch for up to ``tick_seconds``; never raises for broker trouble."""
        if self.db.is_postgres:
            async with self.db.transaction() as session:
                got_lock = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
                if not got_lock:
                    return TickResult(contended=True)

                async def read(after: int | None) -> list[PendingRow]:
                    return await self._pending(session, after=after)

                async def mark(result: TickResult) -> None:
                    await self._record(session, result)

                result = await self._drain(read, mark)
        else:
            # Short transactions on SQLite: one would hold the database's only write lock while
            # waiting for the broker, stalling every API write during an outage.
            async def read(after: int | None) -> list[PendingRow]:
                async with self.db.transaction() as session:
                    return await self._pending(session, after=after)

            async def mark(result: TickResult) -> None:
                if result.published or result.failed:
                    async with self.db.transaction() as session:
                        await self._record(session, result)

            result = await self._drain(read, mark)
        self._hold_failing_keys(result)
        self._spread_keys = bool(result.failed) and not result.published
        OUTBOX_PUBLISHED.labels(self.service).inc(len(result.published))
        if result.failed:
            OUTBOX_FAILURES.labels(self.service).inc()
        return result

    async def _drain(self, read: Callable[[int | None], Awaitable[list[PendingRow]]],
                     mark: Callable[[TickResult], Awaitable[None]]) -> TickResult:
        """Batches back to back: while one batch is on its way to the broker, the previous one is
        marked and the next one read, so the database and the broker work at the same time.

        The next batch is read past the highest id handed over (those rows are not marked yet);
        a row that commits meanwhile with a lower id is found by the next tick. The first batch
        with a failure ends the tick, before any later row of a failed key is handed over.
        """
        result = TickResult()
        rows = await read(None)
        if not rows:
            return result
        try:
            producer = await self._ensure_producer()
        except _PUBLISH_ERRORS as exc:
            self._note_failure(exc)
            result.failed[rows[0].id] = repr(exc)
            await mark(result)
            return result
        loop = asyncio.get_running_loop()
        tick_ends = loop.time() + self.tick_seconds
        unmarked = TickResult()
        while rows:
            deliveries, unsent, deadline = await self._hand_over(producer, rows)
            more = not self._spread_keys and len(rows) == self.batch_size and loop.time() < tick_ends

            async def database_work(done: TickResult = unmarked, after: int = rows[-1].id,
                                    more: bool = more) -> list[PendingRow]:
                await mark(done)
                return await read(after) if more else []

            if deliveries:
                waiting = asyncio.wait([d for _, d in deliveries], timeout=max(0.0, deadline - loop.time()))
                next_rows, _ = await asyncio.gather(database_work(), waiting)
            else:
                next_rows = await database_work()
            unmarked = self._judge(rows, deliveries, unsent)
            result.published += unmarked.published
            result.published_keys |= unmarked.published_keys
            result.failed.update(unmarked.failed)
            result.failed_keys |= unmarked.failed_keys
            rows = [] if unmarked.failed else next_rows
        await mark(unmarked)
        if result.failed:
            # The producer may hold batches it can never deliver in order again: start afresh.
            await self.close()
        else:
            self.last_error = None
        return result

    async def has_pending(self) -> bool:
        """A cheap probe through the partial index: is there a row this relay may publish now?"""
        statement = select(outbox.c.id).where(outbox.c.published_at.is_(None))
        if held := self._held_keys():
            statement = statement.where(outbox.c.key.not_in(held))
        async with self.db.session() as session:
            return (await session.scalar(statement.order_by(outbox.c.id).limit(1))) is not None

    async def backlog(self) -> Backlog:
        """Count the pending rows and the age of the oldest (kept in ``last_backlog`` and the metrics)."""
        async with self.db.session() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
            )).one()
        self.last_backlog = Backlog(count or 0, oldest, time.monotonic())
        OUTBOX_BACKLOG.labels(self.service).set(self.last_backlog.pending)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_PENDING.labels(self.service).set(max(0.0, age))
        return self.last_backlog

    # ----- the loop ----------------------------------------------------------------------
    async def run_forever(self) -> None:
        idle = self.idle_seconds
        look = True  # tick without probing first: at start, when woken, when there may be more
        while True:
            self._wake.clear()  # a commit during the tick sets it again: no wake-up is lost
            try:
                result = await self.run_once() if look or await self.has_pending() else TickResult()
                if self.last_backlog is None or time.monotonic() - self.last_backlog.counted_at >= self.backlog_seconds:
                    await self.backlog()
            except (OSError, KafkaError, SQLAlchemyError) as exc:  # database unreachable and the like
                result = TickResult(failed={-1: repr(exc)})
                self._note_failure(exc)
            except Exception as exc:  # a bug must not end the relay silently: log it loudly, back off
                result = TickResult(failed={-1: repr(exc)})
                self.last_error = repr(exc)
                log.exception("outbox relay tick crashed")
            if result.failed and not result.published:
                # Nothing went through: the broker (or the database) is away. Commits keep
                # coming meanwhile; a wake-up must not cut the backoff short (each would build a
                # new producer and try again), so this sleep ignores them.
                self._failures += 1
                await asyncio.sleep(min(self.max_backoff, 0.5 * 2 ** min(self._failures, 10)))
                look = True
                continue
            self._failures = 0
            if result.published:  # there may be more: look again at once
                idle, look = self.idle_seconds, True
                continue
            if result.contended:
                # Another replica holds the lock: it is publishing, and it looks again at once
                # after every tick that published, so it finds our rows too. Wake-ups must not
                # cut this wait short: under load every commit of this process wakes the relay,
                # and each would cost a lock attempt (three round trips) that can only fail;
                # with two workers that made the pair slower than one. One try per idle period
                # is the safety net for the holder stopping between our commit and its next tick.
                await asyncio.sleep(self.idle_seconds)
                look = True
                continue
            delay = min(idle, self._seconds_to_next_held_retry())
            idle = min(self.max_idle_seconds, idle * 2)
            look = await self._wait_for_wake(delay)
            if look:
                idle = self.idle_seconds

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        await stop_quietly(producer)

    async def _wait_for_wake(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._wake.wait(), max(0.0, seconds))
            return True
        except TimeoutError:
            return False

    # ----- held keys ---------------------------------------------------------------------
    def _held_keys(self) -> list[str]:
        now = time.monotonic()
        return [key for key, (_, retry_at) in self._held.items() if retry_at > now]

    def _seconds_to_next_held_retry(self) -> float:
        now = time.monotonic()
        waits = [retry_at - now for _, retry_at in self._held.values() if retry_at > now]
        return min(waits, default=float("inf"))

    def _hold_failing_keys(self, result: TickResult) -> None:
        for key in result.published_keys - result.failed_keys:
            self._held.pop(key, None)
        if not result.published:
            return  # everything failed: the relay as a whole backs off, no key is to blame
        now = time.monotonic()
        for key in result.failed_keys:
            failures = self._held.get(key, (0, 0.0))[0] + 1
            self._held[key] = (failures, now + min(self.max_backoff, 0.5 * 2 ** min(failures, 10)))

    # ----- reading, publishing, marking --------------------------------------------------
    async def _pending(self, session: AsyncSession, *, after: int | None = None) -> list[PendingRow]:
        """The oldest pending rows of keys not held back (with an id above ``after``), in id order.

        Normally a plain index scan. After a tick in which nothing went through, at most
        ``rows_per_key`` rows of each key (a window over every pending row, costly with a big
        backlog but run only then, once per backoff): a stuck key that filled the batch is then
        found out by the others going through.
        """
        columns = (outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.topic,
                   outbox.c.key, outbox.c.envelope)
        held = self._held_keys()
        if not self._spread_keys:
            statement = select(*columns).where(outbox.c.published_at.is_(None))
            if after is not None:
                statement = statement.where(outbox.c.id > after)
            if held:  # a held key's later rows wait with it, so its order is kept
                statement = statement.where(outbox.c.key.not_in(held))
            statement = statement.order_by(outbox.c.id).limit(self.batch_size)
        else:
            pending = select(
                *columns, func.row_number().over(partition_by=outbox.c.key, order_by=outbox.c.id).label("nth")
            ).where(outbox.c.published_at.is_(None))
            if held:
                pending = pending.where(outbox.c.key.not_in(held))
            ranked = pending.subquery()
            statement = (
                select(ranked.c.id, ranked.c.event_id, ranked.c.event_type, ranked.c.topic, ranked.c.key,
                       ranked.c.envelope)
                .where(ranked.c.nth <= self.rows_per_key)
                .order_by(ranked.c.id)
                .limit(self.batch_size)
            )
        return [PendingRow(*row) for row in (await session.execute(statement)).all()]

    async def _hand_over(
        self, producer: AIOKafkaProducer, rows: list[PendingRow]
    ) -> tuple[list[tuple[PendingRow, asyncio.Future[object]]], dict[str, BaseException], float]:
        """Give the producer every row, in id order, without awaiting the deliveries."""
        deadline = asyncio.get_running_loop().time() + self.send_timeout
        deliveries: list[tuple[PendingRow, asyncio.Future[object]]] = []
        unsent: dict[str, BaseException] = {}  # key -> why a row of it could not be handed over
        try:
            # One timeout for the whole hand-over (no task per send); cancelling ``send`` itself
            # withdraws that record, so a key's later rows are never handed over without it.
            async with asyncio.timeout_at(deadline):
                for row in rows:
                    if row.key in unsent:
                        continue  # later rows of this key wait for this one
                    try:
                        delivery = await producer.send(row.topic, row.envelope.encode(), key=row.key.encode(),
                                                       headers=[("event-type", row.event_type.encode()),
                                                                ("event-id", row.event_id.encode())])
                    except (KafkaError, OSError) as exc:
                        unsent[row.key] = exc
                        continue
                    delivery.add_done_callback(_retrieve_exception)
                    deliveries.append((row, delivery))
        except TimeoutError:
            pass  # rows not handed over stay pending; those handed over are judged by their delivery
        return deliveries, unsent, deadline

    def _judge(self, rows: list[PendingRow], deliveries: list[tuple[PendingRow, asyncio.Future[object]]],
               unsent: dict[str, BaseException]) -> TickResult:
        """Per key, the rows up to the first one not acknowledged are published; that one failed."""
        result = TickResult()
        failed: set[str] = set()
        handed_over = {row.id for row, _ in deliveries}
        for row, delivery in deliveries:
            if row.key in failed:
                continue  # an earlier row of this key was not acknowledged: this one goes again after it
            error = _delivery_error(delivery)
            if error is None:
                result.published.append(row.id)
                result.published_keys.add(row.key)
            else:
                failed.add(row.key)
                self._fail(result, row, error)
        for row in rows:  # the first row of each key that was never handed over (refused, or timed out)
            if row.id not in handed_over and row.key not in failed:
                failed.add(row.key)
                self._fail(result, row, unsent.get(row.key) or TimeoutError("send timed out"))
        return result

    def _fail(self, result: TickResult, row: PendingRow, error: BaseException) -> None:
        self._note_failure(error)
        result.failed[row.id] = repr(error)
        result.failed_keys.add(row.key)

    async def _record(self, session: AsyncSession, result: TickResult) -> None:
        if result.published:
            await session.execute(
                update(outbox).where(self._id_among(result.published)).values(published_at=utcnow())
            )
        by_error: dict[str, list[int]] = defaultdict(list)
        for row_id, error in result.failed.items():
            if row_id >= 0:
                by_error[error[:2000]].append(row_id)
        for error, row_ids in by_error.items():
            await session.execute(
                update(outbox)
                .where(outbox.c.id.in_(row_ids))
                .values(attempts=outbox.c.attempts + 1, last_error=error)
            )

    def _id_among(self, ids: list[int]) -> ColumnElement[bool]:
        if self.db.is_postgres:  # one array parameter: no statement compiled per number of ids
            return outbox.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
        return outbox.c.id.in_(ids)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await self.producer_factory()
        return self._producer

    def _note_failure(self, exc: BaseException) -> None:
        if self.last_error != repr(exc):
            log.warning("outbox publish failed; rows stay pending", extra={"service": self.service, "error": repr(exc)})
        self.last_error = repr(exc)


def _delivery_error(delivery: asyncio.Future[object]) -> BaseException | None:
    if not delivery.done():
        return TimeoutError("no acknowledgement before the send timeout")
    if delivery.cancelled():
        return TimeoutError("delivery cancelled")
    return delivery.exception()


def _retrieve_exception(delivery: asyncio.Future[object]) -> None:
    # A delivery given up on may fail later (its producer is closed): not an unhandled error.
    if not delivery.cancelled():
        delivery.exception()
