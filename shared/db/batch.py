"""Rows a hot write path inserts together, at the end of its transaction: one round trip on PostgreSQL.

A write use case inserts rows of several tables that nothing reads back inside its transaction
(an order, its lines, the outbox row of its event, the stored answer of its ``Idempotency-Key``).
Sent one statement each, they cost a round trip each; deferred and sent together they cost one:

- PostgreSQL: one statement, a data-modifying CTE per table, each table's rows as one array per
  column (``unnest``), so the statement's shape depends on the tables and their columns, not on
  how many rows; it is built once per shape and its compiled form is cached. The sub-statements
  share one snapshot and foreign keys are checked at the end of the statement, so an order and its
  lines may go in together.
- SQLite: one executemany per table, in the order added (no network, nothing to save).

Deferring is opt-in per transaction (:func:`defer_inserts`): elsewhere :func:`insert_rows` sends
at once, so a path that reads its own rows back is never surprised. Whatever is still deferred
when the transaction ends is sent before its commit (``Database.transaction``); a path that must
know whether a row with a unique key went in (the ``Idempotency-Key``) sends with
:func:`send_deferred` and ``only_if_new``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, insert, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

DEFERRED_INSERTS = "deferred_inserts"  # session.info key: the rows waiting for the end of the transaction


@dataclass
class _Rows:
    table: Table
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class NewRow:
    """A row that goes in only if its key is free (``ON CONFLICT (key) DO NOTHING``)."""

    table: Table
    row: dict[str, Any]
    key: tuple[str, ...]


def defer_inserts(session: AsyncSession) -> None:
    """From now on :func:`insert_rows` keeps this transaction's rows until it ends."""
    session.info.setdefault(DEFERRED_INSERTS, [])


def deferring(session: AsyncSession) -> bool:
    return DEFERRED_INSERTS in session.info


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys): deferred when the transaction defers, else now."""
    if not rows:
        return
    pending: list[_Rows] | None = session.info.get(DEFERRED_INSERTS)
    if pending is None:
        await session.execute(_insert(table), rows)
        return
    columns = tuple(rows[0])
    if pending and pending[-1].table is table and pending[-1].columns == columns:
        pending[-1].rows.extend(rows)
    else:
        pending.append(_Rows(table, columns, list(rows)))


async def send_deferred(session: AsyncSession, *, only_if_new: NewRow | None = None) -> bool:
    """Send the deferred rows now (and ``only_if_new`` last); False when its key was taken.

    Deferring stays on for the rest of the transaction. When ``only_if_new`` was not inserted the
    others were, and the caller is expected to roll the transaction back.
    """
    pending: list[_Rows] = session.info.get(DEFERRED_INSERTS) or []
    session.info[DEFERRED_INSERTS] = []
    if not pending and only_if_new is None:
        return True
    if session.bind.dialect.name == "postgresql":
        return await _send_postgresql(session, pending, only_if_new)
    for rows in pending:
        await session.execute(_insert(rows.table), rows.rows)
    if only_if_new is None:
        return True
    inserted = await session.execute(
        sqlite_insert(only_if_new.table).on_conflict_do_nothing(index_elements=list(only_if_new.key)),
        only_if_new.row)
    return inserted.rowcount == 1


_INSERTS: dict[Table, Any] = {}


def _insert(table: Table) -> Any:
    # Built once per table: building a statement per call costs more CPU than its cached compile.
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


# ----- PostgreSQL: one statement ------------------------------------------------------------------

_Shape = tuple[tuple[str, tuple[str, ...]], ...]
_STATEMENTS: dict[tuple[_Shape, tuple[str, tuple[str, ...], tuple[str, ...]] | None], Select] = {}


async def _send_postgresql(session: AsyncSession, pending: list[_Rows], only_if_new: NewRow | None) -> bool:
    shape: _Shape = tuple((rows.table.name, rows.columns) for rows in pending)
    guard = (only_if_new.table.name, tuple(only_if_new.row), only_if_new.key) if only_if_new else None
    statement = _STATEMENTS.get((shape, guard))
    if statement is None:
        statement = _STATEMENTS[(shape, guard)] = _statement(pending, only_if_new)
    params: dict[str, list[Any]] = {}
    for n, rows in enumerate(pending):
        for column in rows.columns:
            params[f"t{n}_{column}"] = [row[column] for row in rows.rows]
    if only_if_new is not None:
        params.update({f"new_{column}": [value] for column, value in only_if_new.row.items()})
    return bool((await session.execute(statement, params)).scalar_one())


def _from_arrays(table: Table, columns: tuple[str, ...], prefix: str) -> Select:
    # One array per column, unnested side by side: PostgreSQL zips set-returning functions of a
    # select list row by row (all arrays have one element per row).
    return select(*[func.unnest(bindparam(f"{prefix}_{column}", type_=ARRAY(table.c[column].type)))
                    for column in columns])


def _statement(pending: list[_Rows], only_if_new: NewRow | None) -> Select:
    ctes = [insert(rows.table).from_select(list(rows.columns), _from_arrays(rows.table, rows.columns, f"t{n}"))
            .cte(f"t{n}") for n, rows in enumerate(pending)]
    if only_if_new is None:
        # Nothing to report: the main statement only has to exist for the CTEs to run.
        return select(literal_column("1")).add_cte(*ctes)
    columns = tuple(only_if_new.row)
    guarded = (pg_insert(only_if_new.table)
               .from_select(list(columns), _from_arrays(only_if_new.table, columns, "new"))
               .on_conflict_do_nothing(index_elements=list(only_if_new.key))
               .returning(literal_column("1"))
               .cte("new"))
    return select(func.count()).select_from(guarded).add_cte(*ctes)
