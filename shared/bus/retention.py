"""Pruning the outbox and the inbox, which otherwise grow without bound.

- Outbox: rows published more than ``outbox_retention`` ago are deleted (a pending row never is).
  They are kept a while only to look into what was sent; Kafka is the record.
- Inbox: rows handled more than ``inbox_retention`` ago are deleted, or never (None, the default).
  The rule: an inbox row must outlive the retention of the topic its event came from. A row is
  what tells a consumer it already applied an event; deleted while the event is still in the
  topic, a replay from the beginning (a rebuilt consumer group, a reset offset, a redelivery)
  applies the event a second time. The topics here are kept for rebuilds (read models are rebuilt
  from history, ``auto_offset_reset=earliest``), so their retention is long or infinite, and the
  inbox is kept by default. Set ``inbox_retention`` only to more than the longest retention of the
  topics the service consumes (e.g. Kafka's default of 7 days: more than 7 days).

Safe with several replicas on one database: each batch is a short transaction that deletes at
most ``batch_size`` rows and does nothing when the rows are gone already; on PostgreSQL a batch
runs under a transaction-scoped advisory lock, so replicas take turns batch by batch (each picks
its rows after the previous batch committed) instead of fighting over the same rows. Batches are
bounded so no lock is held long (on SQLite, the database's single write lock).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Table, delete, select, text, tuple_
from sqlalchemy.exc import SQLAlchemyError

from shared.bus.tables import InboxMessage, OutboxMessage
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.observability.metrics import INBOX_PRUNED, OUTBOX_PRUNED

log = logging.getLogger(__name__)

_PRUNE_LOCK = zlib.crc32(b"pelanggan-retention")
outbox: Table = OutboxMessage.__table__  # type: ignore[assignment]
inbox: Table = InboxMessage.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class PruneResult:
    outbox: int
    inbox: int


class Pruner:
    def __init__(self, *, db: Database, service: str, outbox_retention: timedelta | None,
                 inbox_retention: timedelta | None, batch_size: int = 5000, interval_seconds: float = 3600.0) -> None:
        self.db = db
        self.service = service
        self.outbox_retention = outbox_retention
        self.inbox_retention = inbox_retention
        self.batch_size = batch_size
        self.interval_seconds = interval_seconds

    async def prune_once(self) -> PruneResult:
        now = utcnow()
        pruned_outbox = pruned_inbox = 0
        if self.outbox_retention is not None:
            cutoff = now - self.outbox_retention
            pruned_outbox = await self._delete_in_batches(
                outbox, (outbox.c.id,), outbox.c.published_at.is_not(None) & (outbox.c.published_at < cutoff)
            )
            OUTBOX_PRUNED.labels(self.service).inc(pruned_outbox)
        if self.inbox_retention is not None:
            cutoff = now - self.inbox_retention
            pruned_inbox = await self._delete_in_batches(
                inbox, (inbox.c.consumer, inbox.c.event_id), inbox.c.handled_at < cutoff
            )
            INBOX_PRUNED.labels(self.service).inc(pruned_inbox)
        return PruneResult(pruned_outbox, pruned_inbox)

    async def run_forever(self) -> None:
        while True:
            try:
                result = await self.prune_once()
                if result.outbox or result.inbox:
                    log.info("pruned outbox and inbox", extra={"outbox": result.outbox, "inbox": result.inbox})
            except (OSError, SQLAlchemyError) as exc:  # the database is away: next round
                log.warning("pruning failed; will try again", extra={"error": repr(exc)})
            await asyncio.sleep(self.interval_seconds)

    async def _delete_in_batches(self, table: Table, key: tuple[ColumnElement, ...],
                                 condition: ColumnElement[bool]) -> int:
        total = 0
        while True:
            async with self.db.transaction() as session:
                if self.db.is_postgres:  # replicas take turns, batch by batch (a batch is short)
                    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PRUNE_LOCK})
                victims = select(*key).where(condition).limit(self.batch_size)
                target = key[0] if len(key) == 1 else tuple_(*key)
                deleted = (await session.execute(delete(table).where(target.in_(victims)))).rowcount or 0
            total += deleted
            if deleted < self.batch_size:
                return total
            await asyncio.sleep(0)  # let other work in between batches
