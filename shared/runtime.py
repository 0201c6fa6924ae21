"""Everything a service runs besides HTTP: database, migrations, outbox relay, consumers.

Started and stopped by the app's lifespan. Background tasks are kept, cancelled on shutdown and
bounded by timeouts, so shutdown completes even while the broker is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.bus.consumer import ConsumerRunner
from shared.bus.handlers import HandlerRegistry
from shared.bus.kafka import ensure_topics, start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.tables import OutboxMessage
from shared.config import ServiceSettings
from shared.db.engine import Database
from shared.db.migrations import upgrade_to_head
from shared.events.registry import dead_letter_topic

log = logging.getLogger(__name__)


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
            send_timeout=settings.relay_send_timeout_seconds,
        )
        self.consumers: list[ConsumerRunner] = []
        if self.handlers:
            self.consumers.append(ConsumerRunner(
                service=settings.service_name, group_id=settings.service_name, db=self.db,
                registry=self.handlers, bootstrap=settings.kafka_bootstrap,
                max_attempts=settings.consumer_max_attempts, backoff_seconds=settings.consumer_backoff_seconds,
                max_records=settings.consumer_max_records,
            ))
        self._tasks: list[asyncio.Task[None]] = []
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._broker_checked_at = 0.0
        self._broker_ok = False
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
                session.info["outbox_written"] = True

        @event.listens_for(self.db.sync_session_class, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop("outbox_written", False):
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

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(self.db.check(), 3)
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; the reason is reported
            checks["database"] = f"error: {exc!r}"
        if self.settings.bus_enabled:
            checks["broker"] = "ok" if await self._broker_answers() else "unreachable"
            checks["outbox_backlog"] = await self.relay.backlog() if checks["database"] == "ok" else None
            checks["consumers"] = [c.health() for c in self.consumers]
        ready = checks["database"] == "ok" and (
            not self.settings.bus_enabled
            or (checks["broker"] == "ok" and all(c.healthy for c in self.consumers))
        )
        return ready, checks
