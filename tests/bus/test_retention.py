"""Pruning of the outbox and the inbox, on PostgreSQL (several replicas) and SQLite."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.bus.retention import Pruner
from shared.bus.tables import InboxMessage, OutboxMessage
from shared.config import ServiceSettings
from shared.db.base import shared_metadata
from shared.db.engine import Database
from shared.db.types import utcnow

pytestmark = pytest.mark.integration

outbox = OutboxMessage.__table__
inbox = InboxMessage.__table__


async def seed(db: Database) -> None:
    """Old and recent rows of each kind; the pending old row and the recent ones must survive."""
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(hours=1)

    def row(created, published):  # type: ignore[no-untyped-def]
        return {"event_id": str(uuid.uuid4()), "event_type": "probe.thing.happened", "topic": "probe.events",
                "key": "k", "envelope": "{}", "created_at": created, "published_at": published}

    async with db.transaction() as session:
        await session.execute(sa.insert(outbox), [
            *[row(old, old) for _ in range(5)],  # published long ago: pruned
            row(old, None),  # pending, however old: never pruned
            row(recent, recent),  # published recently: kept
        ])
        await session.execute(sa.insert(inbox), [
            *[{"consumer": "g", "event_id": str(uuid.uuid4()), "event_type": "x", "handled_at": old}
              for _ in range(3)],
            {"consumer": "g", "event_id": str(uuid.uuid4()), "event_type": "x", "handled_at": recent},
        ])


async def remaining(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        published = await session.scalar(sa.select(sa.func.count()).select_from(outbox)
                                         .where(outbox.c.published_at.is_not(None)))
        pending = await session.scalar(sa.select(sa.func.count()).select_from(outbox)
                                       .where(outbox.c.published_at.is_(None)))
        handled = await session.scalar(sa.select(sa.func.count()).select_from(inbox))
    return published, pending, handled


def pruner(db: Database, *, inbox_retention: timedelta | None = None) -> Pruner:
    return Pruner(db=db, service="test", outbox_retention=timedelta(days=7), inbox_retention=inbox_retention,
                  batch_size=2)


async def test_published_rows_past_retention_are_pruned_in_batches_and_the_inbox_is_kept(bus_db: Database) -> None:
    await seed(bus_db)
    result = await pruner(bus_db).prune_once()
    assert (result.outbox, result.inbox) == (5, 0)
    assert await remaining(bus_db) == (1, 1, 4)
    assert (await pruner(bus_db).prune_once()).outbox == 0  # nothing left to do is nothing done


async def test_inbox_rows_are_pruned_only_when_a_retention_is_set(bus_db: Database) -> None:
    await seed(bus_db)
    result = await pruner(bus_db, inbox_retention=timedelta(days=30)).prune_once()
    assert (result.outbox, result.inbox) == (5, 3)
    assert await remaining(bus_db) == (1, 1, 1)


async def test_replicas_pruning_together_delete_each_row_once_without_errors(database_url: str) -> None:
    databases = [Database(database_url) for _ in range(3)]  # three replicas, one database
    try:
        async with databases[0].engine.begin() as conn:
            await conn.run_sync(shared_metadata.create_all)
        for _ in range(4):
            await seed(databases[0])
        results = await asyncio.gather(*(pruner(db, inbox_retention=timedelta(days=30)).prune_once()
                                         for db in databases))
        assert sum(r.outbox for r in results) == 20 and sum(r.inbox for r in results) == 12
        assert await remaining(databases[0]) == (4, 4, 4)
    finally:
        for db in databases:
            await db.dispose()


async def test_pruning_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'prune.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(shared_metadata.create_all)
        await seed(db)
        result = await pruner(db, inbox_retention=timedelta(days=30)).prune_once()
        assert (result.outbox, result.inbox) == (5, 3)
        assert await remaining(db) == (1, 1, 1)
    finally:
        await db.dispose()


def test_the_inbox_is_kept_by_default_and_published_rows_for_a_week() -> None:
    # An inbox row must outlive its topic's retention; the topics are kept for rebuilds.
    settings = ServiceSettings()
    assert settings.inbox_retention_days is None
    assert settings.outbox_retention_hours == 168.0
