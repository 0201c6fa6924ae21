"""Migrations that rewrite data: announcements sent before sent/failed existed are recounted."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from alembic import command

from services.customers.app import MIGRATIONS
from shared.db.engine import Database
from shared.db.migrations import alembic_config
from shared.db.types import utcnow

pytestmark = pytest.mark.integration


async def test_old_announcements_count_their_failed_deliveries_in_the_audience(database_url: str) -> None:
    config = alembic_config(database_url=database_url, migrations_dir=MIGRATIONS)
    await asyncio.to_thread(command.upgrade, config, "0002")
    db = Database(database_url)
    now = utcnow()
    try:
        async with db.engine.begin() as conn:
            for n in range(3):
                await conn.execute(sa.text(
                    "INSERT INTO customer (id, kind, name, emails, phones, status, search_text, created_at, "
                    "updated_at, revision) VALUES (:id, 'person', 'x', '[]', '[]', 'active', '', :at, :at, 1)"),
                    {"id": f"c{n}", "at": now})
            # audience_size counted only what was sent (the defect): one sent, two failed.
            await conn.execute(sa.text(
                "INSERT INTO announcement (id, title, body, channels, audience_size, created_by, created_at) "
                "VALUES ('a1', 't', 'b', '[\"post\"]', 1, 'mgr', :at), "
                "('a2', 't', 'b', '[\"post\"]', 0, 'mgr', :at)"), {"at": now})
            for customer, status in (("c0", "sent"), ("c1", "failed"), ("c2", "failed")):
                await conn.execute(sa.text(
                    "INSERT INTO announcement_delivery (announcement_id, customer_id, channel, status, "
                    "delivered_at) VALUES ('a1', :c, 'post', :s, :at)"), {"c": customer, "s": status, "at": now})
        await asyncio.to_thread(command.upgrade, config, "head")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(sa.text(
                "SELECT id, audience_size, sent, failed FROM announcement ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [("a1", 3, 1, 2), ("a2", 0, 0, 0)]
    finally:
        await db.dispose()
