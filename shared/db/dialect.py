"""SQL that differs between PostgreSQL and SQLite, written once for every service."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

SHARE: dict[str, Any] = {"read": True}  # with_for_update=SHARE: SELECT ... FOR SHARE (ignored by SQLite)


def insert_for(session: AsyncSession) -> Any:
    """The dialect's ``insert``: ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on both databases."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
