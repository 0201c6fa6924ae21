"""Dialect-neutral statements the read models are kept with: upserts that add, insert-or-nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.dialect import insert_for


def dialect_insert(session: AsyncSession, table: sa.Table) -> Any:
    return insert_for(session)(table)


async def insert_once(session: AsyncSession, table: sa.Table, values: Mapping[str, Any]) -> bool:
    """Insert the row unless its key exists; True when this call inserted it (the claim)."""
    statement = dialect_insert(session, table).values(**values).on_conflict_do_nothing()
    return (await session.execute(statement)).rowcount == 1


async def add_rows(
    session: AsyncSession,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    add: Sequence[str],
    keep: Mapping[str, Any] | None = None,
) -> None:
    """Upsert ``rows``: a new key is inserted as given, an existing one gets the ``add`` columns added.

    ``keep`` maps a column to a function ``(column, excluded) -> expression`` for other columns to
    update on conflict (e.g. the earlier of two instants).
    """
    if not rows:
        return
    statement = dialect_insert(session, table).values(list(rows))
    updates: dict[str, Any] = {c: table.c[c] + statement.excluded[c] for c in add}
    for column, combine in (keep or {}).items():
        updates[column] = combine(table.c[column], statement.excluded[column])
    await session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))


def earliest(current: Any, new: Any) -> Any:
    return sa.case((current.is_(None), new), (new < current, new), else_=current)


def latest(current: Any, new: Any) -> Any:
    return sa.case((current.is_(None), new), (new > current, new), else_=current)


def for_share(session: AsyncSession, statement: Any) -> Any:
    return statement.with_for_update(read=True) if session.bind.dialect.name == "postgresql" else statement


def for_update(session: AsyncSession, statement: Any) -> Any:
    return statement.with_for_update() if session.bind.dialect.name == "postgresql" else statement
