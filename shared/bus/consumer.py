"""The consumer runner: applies events exactly once in effect, never skips one, never stalls forever.

For each record, in partition order:
1. Parse the envelope. Unparseable bytes, or a known type in a version this service has no
   handler for, go straight to the dead-letter topic: retrying cannot help.
2. In one database transaction: claim the event id in the inbox (a duplicate stops here) and run
   the handler. Commit.
3. A handler error is retried with exponential backoff up to ``max_attempts``; then the record is
   dead-lettered with the error, attempt count and original coordinates in headers, and the
   partition moves on. Database outages are not the event's fault: they back off and retry
   without counting towards the dead-letter limit.
4. Offsets are committed only after the database commit (or the dead-letter ack) and name the
   next record to read. When a record cannot be finished (the dead-letter topic is unreachable,
   the database is down), the consumer seeks back to it, so the next poll re-reads it instead of
   silently moving on (aiokafka#1046).
A failed commit (after a rebalance) means redelivery, which the inbox absorbs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from shared.bus import inbox
from shared.bus.handlers import HandlerRegistry
from shared.bus.kafka import start_producer, stop_quietly
from shared.db.engine import Database
from shared.db.outages import is_database_outage as _is_transient
from shared.db.types import utcnow
from shared.events.envelope import EventEnvelope
from shared.events.registry import dead_letter_topic
from shared.observability.context import event_context
from shared.observability.metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS_HANDLED

log = logging.getLogger(__name__)


class _Unfinished(Exception):
    """The record could not be settled now; re-read it after a pause."""


class _Stalled(Exception):
    """Lag but no progress for too long (aiokafka#1154): the consumer is rebuilt."""


@dataclass(frozen=True)
class _Poison:
    error: BaseException
    attempts: int


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Settled records of the partitions leaving us are committed now, so their new owner
        # starts after them; the loop stops settling a partition once it is no longer assigned.
        await self.runner._commit_positions([tp for tp in revoked if tp in self.runner._uncommitted])
        for tp in revoked:
            self.runner._uncommitted.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class ConsumerRunner:
    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        db: Database,
        registry: HandlerRegistry,
        bootstrap: str,
        topics: list[str] | None = None,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        max_records: int = 100,
        stall_seconds: float = 120.0,
    ) -> None:
        self.service = service
        self.group_id = group_id
        self.db = db
        self.registry = registry
        self.bootstrap = bootstrap
        self.topics = topics or registry.topics
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_records = max_records
        self.stall_seconds = stall_seconds
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer: AIOKafkaProducer | None = None
        self._uncommitted: dict[TopicPartition, int] = {}
        self._lag: dict[TopicPartition, int] = {}
        self.last_progress_at = time.monotonic()
        self.last_error: str | None = None
        self.running = False

    # ----- lifecycle -------------------------------------------------------------------
    async def run_forever(self) -> None:
        """Consume until cancelled; a crashed or stalled consumer is rebuilt after a pause."""
        failures = 0
        while True:
            try:
                await self._start()
                failures = 0
                await self._poll_loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker trouble, a stall, or a bug: rebuild rather than die silently
                failures += 1
                self.last_error = repr(exc)
                if isinstance(exc, KafkaError | OSError | _Stalled):
                    log.warning("consumer restarting", extra={"group": self.group_id, "error": repr(exc)})
                else:
                    log.exception("consumer crashed; restarting", extra={"group": self.group_id})
                await asyncio.sleep(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** min(failures, 8)))
            finally:
                await self._close_clients()

    async def _start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.service}-{self.group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a new group reads history: read models rebuild from it
            isolation_level="read_committed",
            max_poll_interval_ms=600_000,
        )
        self._consumer = consumer  # kept before starting, so a failed start is still stopped
        await asyncio.wait_for(consumer.start(), 30)
        consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        self.running = True
        self.last_progress_at = time.monotonic()

    async def _close_clients(self) -> None:
        self.running = False
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await asyncio.wait_for(self._commit_positions(list(self._uncommitted), consumer), 5)
            except (TimeoutError, KafkaError):
                pass
            try:
                await asyncio.wait_for(consumer.stop(), 10)
            except (TimeoutError, KafkaError) as exc:
                log.warning("consumer did not stop cleanly", extra={"error": repr(exc)})
        self._uncommitted.clear()
        producer, self._dlq_producer = self._dlq_producer, None
        await stop_quietly(producer)

    # ----- the loop --------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
            if not batch:
                await self._check_stall(consumer)
                continue
            for tp, records in batch.items():
                await self._settle_partition(consumer, tp, records)
            await self._update_lag(consumer)

    async def _settle_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        for record in records:
            if tp not in consumer.assignment():
                return  # revoked in a rebalance: the new owner reads on from the last commit
            try:
                await self._settle(record)
            except _Unfinished:
                if tp in consumer.assignment():
                    consumer.seek(tp, record.offset)
                    await self._commit_positions([tp])
                await asyncio.sleep(self.backoff_seconds)
                return
            self._uncommitted[tp] = record.offset + 1
            self.last_progress_at = time.monotonic()
        await self._commit_positions([tp])

    async def _settle(self, record: ConsumerRecord) -> None:
        try:
            envelope = EventEnvelope.from_bytes(record.value)
        except (ValidationError, ValueError, TypeError) as exc:
            await self._dead_letter(record, _Poison(exc, 1))
            return
        handler = self.registry.get(envelope.type, envelope.version)
        if handler is None:
            if self.registry.handles_type(envelope.type):
                await self._dead_letter(
                    record, _Poison(LookupError(f"no handler for {envelope.type} v{envelope.version}"), 1)
                )
            else:
                EVENTS_HANDLED.labels(self.service, self.group_id, "ignored").inc()
            return
        attempt = 0
        transient_failures = 0
        while True:
            attempt += 1
            try:
                async with self.db.transaction() as session:
                    fresh = await inbox.claim(
                        session, consumer=self.group_id, event_id=str(envelope.event_id), event_type=envelope.type
                    )
                    if fresh:
                        with event_context(correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id)):
                            await handler(session, envelope)
                EVENTS_HANDLED.labels(self.service, self.group_id, "handled" if fresh else "duplicate").inc()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is retried; only the event's own count towards the DLQ
                self.last_error = repr(exc)
                if _is_transient(exc):
                    attempt -= 1
                    transient_failures += 1
                    log.warning(
                        "database unavailable while handling an event; will retry",
                        extra={"event_id": str(envelope.event_id), "error": repr(exc)},
                    )
                    if transient_failures >= 3:
                        raise _Unfinished from exc  # seek back and re-read it after a pause
                    await asyncio.sleep(self._backoff(transient_failures))
                    continue
                if attempt >= self.max_attempts:
                    EVENTS_HANDLED.labels(self.service, self.group_id, "dead_lettered").inc()
                    await self._dead_letter(record, _Poison(exc, attempt))
                    return
                log.info(
                    "event handler failed; retrying",
                    extra={"event_id": str(envelope.event_id), "attempt": attempt, "error": repr(exc)},
                )
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))

    # ----- dead letters ----------------------------------------------------------------
    async def _dead_letter(self, record: ConsumerRecord, poison: _Poison) -> None:
        error = poison.error
        headers = [
            *list(record.headers or []),
            ("x-error", str(error)[:4000].encode()),
            ("x-error-type", type(error).__name__.encode()),
            ("x-error-trace", "".join(traceback.format_exception(error))[-4000:].encode()),
            ("x-attempts", str(poison.attempts).encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer-group", self.group_id.encode()),
            ("x-dead-lettered-at", utcnow().isoformat().encode()),
        ]
        try:
            if self._dlq_producer is None:
                self._dlq_producer = await start_producer(self.bootstrap, client_id=f"{self.group_id}-dlq")
            await asyncio.wait_for(
                self._dlq_producer.send_and_wait(
                    dead_letter_topic(record.topic), record.value, key=record.key, headers=headers
                ),
                15,
            )
        except (TimeoutError, KafkaError, OSError) as exc:
            producer, self._dlq_producer = self._dlq_producer, None
            await stop_quietly(producer)
            raise _Unfinished from exc
        DEAD_LETTERS.labels(self.service, self.group_id).inc()
        log.error(
            "event moved to the dead-letter topic",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "attempts": poison.attempts,
                "error": repr(error),
            },
        )

    # ----- offsets, lag, stalls --------------------------------------------------------
    async def _commit_positions(self, tps: list[TopicPartition], consumer: AIOKafkaConsumer | None = None) -> None:
        consumer = consumer or self._consumer
        offsets = {tp: self._uncommitted[tp] for tp in tps if tp in self._uncommitted}
        if consumer is None or not offsets:
            return
        try:
            await consumer.commit(offsets)
            for tp in offsets:
                self._uncommitted.pop(tp, None)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced (or the partition was just revoked); its new owner re-reads
            # from the last commit and the inbox turns the repeats into no-ops.
            log.warning("offset commit failed; records will be redelivered", extra={"error": repr(exc)})
            for tp in offsets:
                self._uncommitted.pop(tp, None)

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), 2)
            except (TimeoutError, KafkaError, AssertionError):
                continue
            self._lag[tp] = max(0, highwater - position)
            CONSUMER_LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(self._lag[tp])

    async def _check_stall(self, consumer: AIOKafkaConsumer) -> None:
        # Alive but not moving while records wait (aiokafka#1154): rebuild the consumer.
        await self._update_lag(consumer)
        if not self.healthy:
            raise _Stalled(f"lag {sum(self._lag.values())} with no progress for {self.stall_seconds}s")

    def health(self) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "running": self.running,
            "lag": sum(self._lag.values()),
            "seconds_since_progress": round(time.monotonic() - self.last_progress_at, 1),
            "last_error": self.last_error,
        }

    @property
    def healthy(self) -> bool:
        stalled = sum(self._lag.values()) > 0 and time.monotonic() - self.last_progress_at > self.stall_seconds
        return self.running and not stalled


def decode_headers(headers: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (headers or [])}


def envelope_summary(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
        return {k: data.get(k) for k in ("event_id", "type", "version", "aggregate_id", "customer_id")}
    except (ValueError, TypeError):
        return {"raw": raw[:200].decode(errors="replace")}
