"""The consumer runner: applies events exactly once in effect, never skips one, never stalls forever.

For each record, in partition order:
1. Parse the envelope. Unparseable bytes, or a known type in a version this service has no
   handler for, go straight to the dead-letter topic: retrying cannot help.
2. In one database transaction: claim the event id in the inbox (a duplicate stops here) and run
   the handler. Commit.
3. A record that cannot be settled now holds back only its own partition: the consumer seeks the
   partition back to it (so it is read again, not skipped: aiokafka#1046), pauses the partition,
   and keeps handling the others; when the retry is due the partition is resumed and the record
   read again. A handler error is retried with exponential backoff up to ``max_attempts``, then
   the record is dead-lettered with the error, attempt count and original coordinates in headers,
   and the partition moves on. Database outages are not the event's fault: they back off the same
   way but never count towards the dead-letter limit; neither does an unreachable dead-letter
   topic (the dead letter is sent again, the handler is not run again).
4. Offsets are committed only after the database commit (or the dead-letter ack), explicitly as
   ``{tp: offset + 1}``, and on partition revocation. A failed commit (after a rebalance) means
   redelivery, which the inbox absorbs. Attempts are counted per partition owner: a partition
   handed to another consumer starts its count afresh.
5. Every ``probe_seconds``, beside the loop, the consumer asks the broker for the log end of its partitions: the
   lag is measured, not inferred from the last fetch, an unreachable broker is reported as such,
   and a consumer with lag on partitions it is not deliberately holding back but no progress for
   ``stall_seconds`` is rebuilt (aiokafka#1154: alive, no error, no progress).

``state`` says what the consumer is doing, in a word ("running", "retrying", "database
unavailable", "broker unreachable", "stalled", "restarting", "starting", "stopped"), for
readiness and metrics; ``last_error`` holds the latest error's repr for logs and operators and is
cleared once the consumer is running cleanly again.
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
from shared.observability.metrics import (
    CONSUMER_LAG,
    CONSUMER_RESTARTS,
    CONSUMER_RETRYING_PARTITIONS,
    CONSUMER_STATE,
    DEAD_LETTERS,
    EVENTS_HANDLED,
)

log = logging.getLogger(__name__)

# Headers the runner adds to a dead letter; a record that carries them already (a replayed
# letter, say) has them replaced, so a letter never holds two of any.
DEAD_LETTER_HEADERS = frozenset({
    "x-error", "x-error-type", "x-error-trace", "x-attempts", "x-original-topic", "x-original-partition",
    "x-original-offset", "x-consumer-group", "x-dead-lettered-at",
})
STATES = ("starting", "running", "retrying", "database unavailable", "broker unreachable", "stalled",
          "restarting", "stopped")


class _Again(Exception):
    """The record is not settled: its partition is paused and the record read again later."""

    def __init__(self, error: BaseException, *, attempts: int, outage: bool, dead_letter_due: bool = False) -> None:
        super().__init__(repr(error))
        self.error = error
        self.attempts = attempts  # failures of the record's own, so far
        self.outage = outage  # the database or the dead-letter topic, not the record
        self.dead_letter_due = dead_letter_due  # attempts are used up; only the dead letter is left to send


@dataclass
class _Retry:
    offset: int
    attempts: int
    outages: int
    due_at: float  # monotonic
    error: BaseException
    outage: bool
    dead_letter_due: bool


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
            self.runner._retries.pop(tp, None)  # its new owner reads the record again from the commit
            self.runner._lag.pop(tp, None)

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
        probe_seconds: float = 5.0,
        probe_timeout_seconds: float = 3.0,
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
        self.probe_seconds = probe_seconds
        self.probe_timeout_seconds = probe_timeout_seconds
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer: AIOKafkaProducer | None = None
        self._uncommitted: dict[TopicPartition, int] = {}
        self._retries: dict[TopicPartition, _Retry] = {}
        self._lag: dict[TopicPartition, int] = {}
        self._lag_known = False
        self._broker_ok: bool | None = None  # None: not asked yet
        self._stall: str | None = None  # set by the probe; the loop then rebuilds the consumer
        self._restart_reason: str | None = None
        self._alive = False
        self.last_progress_at = time.monotonic()
        self.last_error: str | None = None
        self.running = False
        self.stalls = 0
        self.restarts = 0

    # ----- state -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if not self._alive:
            return "stopped"
        if self._restart_reason is not None:
            return self._restart_reason
        if not self.running:
            return "starting"
        if self._broker_ok is False:
            return "broker unreachable"
        if any(retry.outage for retry in self._retries.values()):
            return "database unavailable"
        if self._retries:
            return "retrying"
        return "running"

    @property
    def healthy(self) -> bool:
        return self.state == "running"

    def health(self) -> dict[str, Any]:
        """For readiness bodies (unauthenticated): codes and numbers, never an exception's text."""
        return {
            "group": self.group_id,
            "state": self.state,
            "lag": sum(self._lag.values()) if self._lag_known else None,
            "partitions_retrying": len(self._retries),
            "seconds_since_progress": round(time.monotonic() - self.last_progress_at, 1),
            "stalls": self.stalls,
            "restarts": self.restarts,
        }

    def _refresh_state(self) -> None:
        state = self.state
        if state == "running":
            self.last_error = None  # the cause is gone
        for known in STATES:
            CONSUMER_STATE.labels(self.service, self.group_id, known).set(1 if known == state else 0)
        CONSUMER_RETRYING_PARTITIONS.labels(self.service, self.group_id).set(len(self._retries))

    # ----- lifecycle -------------------------------------------------------------------
    async def run_forever(self) -> None:
        """Consume until cancelled; a crashed or stalled consumer is rebuilt after a pause."""
        failures = 0
        self._alive = True
        try:
            while True:
                try:
                    await self._start()
                    failures = 0
                    self._restart_reason = None
                    self._refresh_state()
                    await self._poll_loop()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker trouble, a stall, or a bug: rebuild rather than die silently
                    failures += 1
                    self.last_error = repr(exc)
                    if isinstance(exc, _Stalled):
                        reason = "stalled"
                        self.stalls += 1
                        log.warning("consumer stalled; rebuilding it",
                                    extra={"group": self.group_id, "error": repr(exc)})
                    elif isinstance(exc, KafkaError | OSError):
                        reason = "broker unreachable"
                        log.warning("consumer restarting", extra={"group": self.group_id, "error": repr(exc)})
                    else:
                        reason = "restarting"
                        log.exception("consumer crashed; restarting", extra={"group": self.group_id})
                    self._restart_reason = reason
                    self.restarts += 1
                    CONSUMER_RESTARTS.labels(self.service, self.group_id, reason).inc()
                    self._refresh_state()
                    await asyncio.sleep(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** min(failures, 8)))
                finally:
                    await self._close_clients()
        finally:
            self._alive = False
            self._refresh_state()

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
        self._broker_ok = None
        self._stall = None
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
        self._retries.clear()
        self._lag.clear()
        self._lag_known = False
        producer, self._dlq_producer = self._dlq_producer, None
        await stop_quietly(producer)

    # ----- the loop --------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        # The probe runs beside the loop: ``getmany`` waits as long as a rebalance lasts, which
        # is forever while the broker is away, and the state must tell the truth meanwhile.
        watchdog = asyncio.create_task(self._watch(consumer), name=f"consumer-watch-{self.group_id}")
        try:
            while True:
                self._resume_due(consumer)
                batch = await consumer.getmany(timeout_ms=self._poll_timeout_ms(), max_records=self.max_records)
                for tp, records in batch.items():
                    await self._settle_partition(consumer, tp, records)
                if self._stall is not None:
                    raise _Stalled(self._stall)
                self._refresh_state()
        finally:
            watchdog.cancel()
            await asyncio.wait([watchdog])

    async def _watch(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            await asyncio.sleep(self.probe_seconds)
            try:
                await self._probe(consumer)
            except Exception:  # a bug in the probe must not end it silently
                log.exception("consumer probe failed", extra={"group": self.group_id})
            self._refresh_state()

    def _poll_timeout_ms(self) -> int:
        now = time.monotonic()
        due = min((retry.due_at - now for retry in self._retries.values()), default=0.5)
        return int(1000 * min(0.5, max(0.01, due)))

    def _resume_due(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        assigned = consumer.assignment()
        paused = consumer.paused()
        for tp, retry in list(self._retries.items()):
            if tp not in assigned:
                del self._retries[tp]
            elif retry.due_at <= now and tp in paused:
                consumer.resume(tp)  # the next fetch starts at the record to retry (sought back to it)

    async def _settle_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        for record in records:
            if tp not in consumer.assignment():
                break  # revoked in a rebalance: the new owner reads on from the last commit
            retry = self._retries.get(tp)
            if retry is not None and retry.offset != record.offset:
                retry = None  # the partition moved elsewhere (the record is gone): attempts start afresh
                del self._retries[tp]
            try:
                await self._settle(record, retry)
            except _Again as again:
                self._hold_back(consumer, tp, record, again)
                break
            self._retries.pop(tp, None)
            self._uncommitted[tp] = record.offset + 1
            self.last_progress_at = time.monotonic()
        await self._commit_positions([tp])

    def _hold_back(self, consumer: AIOKafkaConsumer, tp: TopicPartition, record: ConsumerRecord,
                   again: _Again) -> None:
        """Pause only this partition until the record's retry is due; the others go on."""
        previous = self._retries.get(tp)
        outages = (previous.outages if previous is not None else 0) + (1 if again.outage else 0)
        delay = self._backoff(outages if again.outage else again.attempts)
        self._retries[tp] = _Retry(offset=record.offset, attempts=again.attempts, outages=outages,
                                   due_at=time.monotonic() + delay, error=again.error, outage=again.outage,
                                   dead_letter_due=again.dead_letter_due)
        self.last_error = repr(again.error)
        if tp in consumer.assignment():
            consumer.seek(tp, record.offset)  # the in-memory position is past it already (aiokafka#1046)
            consumer.pause(tp)

    async def _settle(self, record: ConsumerRecord, retry: _Retry | None) -> None:
        """Apply the record, or dead-letter it; raises ``_Again`` when it must be tried again later."""
        if retry is not None and retry.dead_letter_due:
            await self._dead_letter(record, _Poison(retry.error, retry.attempts))
            return
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
        attempts = retry.attempts if retry is not None else 0
        try:
            async with self.db.transaction() as session:
                fresh = await inbox.claim(
                    session, consumer=self.group_id, event_id=str(envelope.event_id), event_type=envelope.type
                )
                if fresh:
                    with event_context(correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id)):
                        await handler(session, envelope)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is retried; only the event's own count towards the DLQ
            if _is_transient(exc):
                log.warning(
                    "database unavailable while handling an event; will retry",
                    extra={"event_id": str(envelope.event_id), "error": repr(exc)},
                )
                raise _Again(exc, attempts=attempts, outage=True)
            attempts += 1
            if attempts >= self.max_attempts:
                await self._dead_letter(record, _Poison(exc, attempts))
                return
            log.info(
                "event handler failed; retrying",
                extra={"event_id": str(envelope.event_id), "attempt": attempts, "error": repr(exc)},
            )
            raise _Again(exc, attempts=attempts, outage=False)
        EVENTS_HANDLED.labels(self.service, self.group_id, "handled" if fresh else "duplicate").inc()
        if fresh:
            # One JSON line per applied event, under the event's correlation id: ops follow a request from
            # the gateway through HTTP and events to the last consumer.
            with event_context(correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id)):
                log.info("event applied", extra={"group": self.group_id, "event_type": envelope.type,
                                                 "event_version": envelope.version,
                                                 "event_id": str(envelope.event_id)})

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(0, attempt - 1))

    # ----- dead letters ----------------------------------------------------------------
    async def _dead_letter(self, record: ConsumerRecord, poison: _Poison) -> None:
        error = poison.error
        headers = [
            *[(k, v) for k, v in record.headers or [] if k not in DEAD_LETTER_HEADERS],
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
            log.warning("dead-letter topic unreachable; will retry", extra={"error": repr(exc)})
            raise _Again(error, attempts=poison.attempts, outage=True, dead_letter_due=True) from exc
        EVENTS_HANDLED.labels(self.service, self.group_id, "dead_lettered").inc()
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

    async def _probe(self, consumer: AIOKafkaConsumer) -> None:
        """The log end from the broker, the lag, and the stall check (the loop acts on ``_stall``)."""
        assigned = list(consumer.assignment())
        try:
            if assigned:
                ends = await asyncio.wait_for(consumer.end_offsets(assigned), self.probe_timeout_seconds)
            else:
                await asyncio.wait_for(consumer.topics(), self.probe_timeout_seconds)  # a metadata round trip
                ends = {}
        except (TimeoutError, KafkaError, OSError) as exc:
            if self._broker_ok is not False:
                log.warning("broker unreachable from the consumer", extra={"group": self.group_id, "error": repr(exc)})
            self._broker_ok = False
            self._lag_known = False
            self.last_error = repr(exc)
            return
        self._broker_ok = True
        lag: dict[TopicPartition, int] = {}
        for tp, end in ends.items():
            try:
                position = await asyncio.wait_for(consumer.position(tp), self.probe_timeout_seconds)
            except (TimeoutError, KafkaError, IllegalStateError, AssertionError):
                continue  # no position yet (being reset, or just revoked)
            lag[tp] = max(0, end - position)
            CONSUMER_LAG.labels(self.service, self.group_id, tp.topic, str(tp.partition)).set(lag[tp])
        self._lag = lag
        self._lag_known = True
        # Partitions held back for a retry are waiting on purpose; lag elsewhere must move.
        now = time.monotonic()
        waiting = sum(n for tp, n in lag.items() if tp not in self._retries)
        if not waiting:
            self.last_progress_at = now  # caught up: no progress is due
        elif now - self.last_progress_at > self.stall_seconds:
            self._stall = f"lag {waiting} with no progress for {self.stall_seconds}s"


def decode_headers(headers: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (headers or [])}


def envelope_summary(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
        return {k: data.get(k) for k in ("event_id", "type", "version", "aggregate_id", "customer_id")}
    except (ValueError, TypeError):
        return {"raw": raw[:200].decode(errors="replace")}
