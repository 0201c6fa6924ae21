"""Everything a service runs besides HTTP: database, migrations, outbox relay, consumers, pruning.

Started and stopped by the app's lifespan. Background tasks are kept, cancelled on shutdown and
bounded by timeouts, so shutdown completes even while the broker is down.

Readiness (``readiness()``, served by ``/readyz``) means "this instance can serve its API": the
database answers and its schema is at the migrations' head. The broker, the outbox relay and the
consumers are reported in the body (and in metrics) as degraded, never as unready: with an outbox
every write still succeeds while the broker is away, and a load balancer that dropped every
replica for it would turn a broker outage into a full one (PITFALLS 21). The body is served
without authentication, so it holds codes and numbers, never an exception's text.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.bus.consumer import ConsumerRunner
from shared.bus.handlers import HandlerRegistry
from shared.bus.kafka import ensure_topics, start_producer
from shared.bus.outbox import OUTBOX_WRITTEN
from shared.bus.relay import OutboxRelay
from shared.bus.retention import Pruner
from shared.bus.tables import OutboxMessage
from shared.config import ServiceSettings
from shared.db.engine import Database
from shared.db.migrations import alembic_config, upgrade_to_head
from shared.db.types import utcnow
from shared.events.registry import dead_letter_topic
from shared.observability.metrics import DEGRADED, READY

log = logging.getLogger(__name__)

# Events waiting longer than this are reported as delayed, even while the relay reports no error.
OUTBOX_DELAYED_SECONDS = 60.0
_CHECK_TIMEOUT = 3.0


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, *, migrations_dir: Path, published_topics: list[str],
                 handlers: HandlerRegistry | None = None) -> None:
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.published_topics = published_topics
        self.handlers = handlers or HandlerRegistry()
        self.db = Database(settings.effective_database_url)
        self.relay = OutboxRelay(
            db=self.db, producer_factory=self._new_producer, service=settings.service_name,
            batch_size=settings.relay_batch_size, idle_seconds=settings.relay_idle_seconds,
            max_idle_seconds=settings.relay_max_idle_seconds, send_timeout=settings.relay_send_timeout_seconds,
        )
        self.consumers: list[ConsumerRunner] = []
        if self.handlers:
            self.consumers.append(ConsumerRunner(
                service=settings.service_name, group_id=settings.service_name, db=self.db,
                registry=self.handlers, bootstrap=settings.kafka_bootstrap,
                max_attempts=settings.consumer_max_attempts, backoff_seconds=settings.consumer_backoff_seconds,
                max_records=settings.consumer_max_records, stall_seconds=settings.consumer_stall_seconds,
            ))
        self.pruner = Pruner(
            db=self.db, service=settings.service_name,
            outbox_retention=_hours(settings.outbox_retention_hours),
            inbox_retention=_days(settings.inbox_retention_days),
            batch_size=settings.retention_batch_size, interval_seconds=settings.retention_interval_seconds,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._broker_checked_at = 0.0
        self._broker_ok = False
        self._migration_heads: set[str] | None = None
        self._watch_outbox_commits()

    async def _new_producer(self) -> AIOKafkaProducer:
        return await start_producer(self.settings.kafka_bootstrap, client_id=f"{self.settings.service_name}-relay",
                                    timeout=self.settings.relay_send_timeout_seconds)

    def _watch_outbox_commits(self) -> None:
        # Wake the relay right after a commit that wrote events, instead of at its next poll.
        relay = self.relay

        @event.listens_for(self.db.sync_session_class, "before_flush")
        def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
            if any(isinstance(obj, OutboxMessage) for obj in session.new):
                session.info[OUTBOX_WRITTEN] = True  # write_event sets it itself

        @event.listens_for(self.db.sync_session_class, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop(OUTBOX_WRITTEN, False):
                relay.notify()

    def add_background(self, name: str, coroutine_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A service-owned background task, started after the migrations and cancelled on shutdown.

        The coroutine should run until cancelled and survive its own errors; it must be safe with
        several replicas (claim its work with an advisory lock or a unique row).
        """
        self._background.append((name, coroutine_factory))

    async def start(self) -> None:
        await upgrade_to_head(database_url=self.db.url, migrations_dir=self.migrations_dir)
        for name, factory in self._background:
            self._tasks.append(asyncio.create_task(factory(), name=name))
        if not self.settings.bus_enabled:
            return
        topics = self.published_topics + [dead_letter_topic(t) for t in self.published_topics]
        for consumer in self.consumers:
            topics += consumer.topics + [dead_letter_topic(t) for t in consumer.topics]
        try:
            await ensure_topics(self.settings.kafka_bootstrap, topics, timeout=5)
        except (TimeoutError, KafkaError, OSError) as exc:
            # The broker may come later: the relay waits for it, the consumers retry.
            log.warning("could not ensure topics at start", extra={"error": repr(exc)})
        self._tasks.append(asyncio.create_task(self.relay.run_forever(), name="outbox-relay"))
        for consumer in self.consumers:
            self._tasks.append(asyncio.create_task(consumer.run_forever(), name=f"consumer-{consumer.group_id}"))
        # Only with the bus: without it nothing is published (nothing to prune) nor consumed.
        self._tasks.append(asyncio.create_task(self.pruner.run_forever(), name="retention"))

    async def stop(self, timeout: float = 15.0) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
            if pending:
                log.warning("background tasks did not stop in time", extra={"tasks": [t.get_name() for t in pending]})
        self._tasks.clear()
        await self.relay.close()
        await self.db.dispose()

    # ----- readiness ---------------------------------------------------------------------
    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, body)``: ready when the API can be served; the body says what is degraded.

        ``body["status"]`` is "ready", "degraded" (ready, but the broker, the outbox or a consumer
        is in trouble) or "not ready"; ``body["checks"]`` holds one entry per part. Answer 200
        when ready (also when degraded), 503 otherwise.
        """
        checks: dict[str, Any] = {}
        checks["database"], checks["migrations"] = await self._database_checks()
        ready = checks["database"] == "ok" and checks["migrations"] == "ok"
        degraded: dict[str, bool] = {}
        if self.settings.bus_enabled:
            checks["broker"] = "ok" if await self._broker_answers() else "unreachable"
            checks["outbox"] = await self._outbox_check(database_ok=checks["database"] == "ok")
            checks["consumers"] = [c.health() for c in self.consumers]
            degraded = {
                "broker": checks["broker"] != "ok",
                "outbox": checks["outbox"]["state"] != "ok",
                "consumers": any(c["state"] != "running" for c in checks["consumers"]),
            }
        status = "not ready" if not ready else "degraded" if any(degraded.values()) else "ready"
        service = self.settings.service_name
        READY.labels(service).set(1 if ready else 0)
        for check, is_degraded in degraded.items():
            DEGRADED.labels(service, check).set(1 if is_degraded else 0)
        return ready, {"status": status, "checks": checks}

    async def _database_checks(self) -> tuple[str, str]:
        """("ok" | "unreachable", "ok" | "behind" | "unknown")."""
        try:
            heads = await self._heads()
            applied = await asyncio.wait_for(self._applied_revisions(), _CHECK_TIMEOUT)
        except Exception as exc:  # any failure to ask means unreachable; the cause goes to the log only
            log.warning("readiness: database unreachable", extra={"error": repr(exc)})
            return "unreachable", "unknown"
        return "ok", "ok" if applied == heads else "behind"

    async def _heads(self) -> set[str]:
        if self._migration_heads is None:
            config = alembic_config(database_url=self.db.url, migrations_dir=self.migrations_dir)
            # Reads the migration files: once, in a thread (sync file I/O blocks the loop).
            heads = await asyncio.to_thread(lambda: ScriptDirectory.from_config(config).get_heads())
            self._migration_heads = set(heads)
        return self._migration_heads

    async def _applied_revisions(self) -> set[str]:
        # Through the driver connection, outside a SQLAlchemy transaction: every SQLAlchemy
        # transaction on SQLite is BEGIN IMMEDIATE, and a readiness probe must not queue for
        # the database's write lock behind the API's writers.
        query = "SELECT version_num FROM alembic_version"
        async with self.db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                if self.db.is_sqlite:
                    async with driver.execute(query) as cursor:
                        rows = await cursor.fetchall()
                else:
                    rows = await driver.fetch(query)
            except (asyncpg.UndefinedTableError, sqlite3.OperationalError) as exc:
                if isinstance(exc, sqlite3.OperationalError) and "no such table" not in str(exc):
                    raise
                return set()  # never migrated
        return {row[0] for row in rows}

    async def _outbox_check(self, *, database_ok: bool) -> dict[str, Any]:
        backlog = self.relay.last_backlog
        stale = backlog is None or time.monotonic() - backlog.counted_at > self.relay.backlog_seconds
        if stale and database_ok:  # the relay counts after its ticks, not while it backs off
            try:
                backlog = await asyncio.wait_for(self.relay.backlog(), _CHECK_TIMEOUT)
            except Exception as exc:  # reported as unknown; the cause goes to the log only
                log.warning("readiness: outbox backlog unknown", extra={"error": repr(exc)})
        oldest = None
        if backlog is not None and backlog.oldest_created_at is not None:
            oldest = round(max(0.0, (utcnow() - backlog.oldest_created_at).total_seconds()), 1)
        state = self.relay.state
        if state == "ok" and oldest is not None and oldest > OUTBOX_DELAYED_SECONDS:
            state = "delayed"
        return {"state": state, "backlog": backlog.pending if backlog else None, "oldest_pending_seconds": oldest}

    async def _broker_answers(self) -> bool:
        # Cached: /readyz is polled often and a metadata round trip per poll is wasteful.
        if time.monotonic() - self._broker_checked_at < 5:
            return self._broker_ok
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=2000)
        try:
            await asyncio.wait_for(client.bootstrap(), 3)
            self._broker_ok = True
        except (TimeoutError, KafkaError, OSError):
            self._broker_ok = False
        finally:
            await client.close()
        self._broker_checked_at = time.monotonic()
        return self._broker_ok


def _hours(hours: float | None) -> timedelta | None:
    return timedelta(hours=hours) if hours is not None else None


def _days(days: float | None) -> timedelta | None:
    return timedelta(days=days) if days is not None else None
