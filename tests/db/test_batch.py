"""Deferred inserts (shared/db/batch.py): one statement on PostgreSQL, the same rows on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from shared.db.batch import NewRow, defer_inserts, insert_rows, send_deferred
from shared.db.engine import Database
from shared.db.types import ExactDecimal, UTCDateTime

metadata = sa.MetaData()
# Parent and child with a foreign key (an order and its lines), and a keyed table (stored answers).
parents = sa.Table(f"batch_parent_{uuid.uuid4().hex[:8]}", metadata,
                   sa.Column("id", sa.String(36), primary_key=True),
                   sa.Column("total", ExactDecimal(20, 2), nullable=False),
                   sa.Column("note", sa.Text, nullable=True),
                   sa.Column("at", UTCDateTime, nullable=False))
children = sa.Table(f"batch_child_{uuid.uuid4().hex[:8]}", metadata,
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("parent_id", sa.String(36), sa.ForeignKey(parents.c.id), nullable=False),
                    sa.Column("quantity", sa.Integer, nullable=False))
keys = sa.Table(f"batch_key_{uuid.uuid4().hex[:8]}", metadata,
                sa.Column("scope", sa.String(50), primary_key=True),
                sa.Column("key", sa.String(50), primary_key=True),
                sa.Column("answer", sa.Text, nullable=False))

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(database_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await database.dispose()


def statements(db: Database) -> list[str]:
    sent: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: sent.append(statement.lstrip().split()[0].upper()))
    return sent  # SQLite's BEGIN (IMMEDIATE) is sent as a statement too: the tests leave it out


async def rows(db: Database, table: sa.Table) -> list[tuple]:
    async with db.read() as conn:
        return [tuple(r) for r in (await conn.execute(sa.select(table).order_by(*table.primary_key.columns)))]


async def test_deferred_rows_of_several_tables_go_in_together_with_their_types(db: Database) -> None:
    sent = statements(db)
    async with db.transaction() as session:
        defer_inserts(session)
        await insert_rows(session, parents, [{"id": "p1", "total": Decimal("12.30"), "note": None, "at": AT}])
        await insert_rows(session, children, [{"parent_id": "p1", "quantity": n} for n in (1, 2, 3)])
        await insert_rows(session, parents, [{"id": "p2", "total": Decimal("0.05"), "note": "ü ' \"", "at": AT}])
        assert [s for s in sent if s != "BEGIN"] == []  # nothing sent yet
        assert await send_deferred(session, only_if_new=NewRow(keys, {"scope": "s", "key": "k", "answer": "{}"},
                                                               key=("scope", "key")))
    inserts = [s for s in sent if s in ("INSERT", "WITH")]
    assert inserts == (["WITH"] if db.is_postgres else ["INSERT"] * 4)  # PostgreSQL: one statement
    assert await rows(db, parents) == [("p1", Decimal("12.30"), None, AT), ("p2", Decimal("0.05"), "ü ' \"", AT)]
    assert [r[1:] for r in await rows(db, children)] == [("p1", 1), ("p1", 2), ("p1", 3)]
    assert await rows(db, keys) == [("s", "k", "{}")]


async def test_a_taken_key_is_reported_and_the_transaction_can_roll_everything_back(db: Database) -> None:
    async with db.transaction() as session:
        await insert_rows(session, keys, [{"scope": "s", "key": "taken", "answer": "first"}])
    with pytest.raises(LookupError):
        async with db.transaction() as session:
            defer_inserts(session)
            await insert_rows(session, parents, [{"id": "p3", "total": Decimal("1.00"), "note": None, "at": AT}])
            new = NewRow(keys, {"scope": "s", "key": "taken", "answer": "second"}, key=("scope", "key"))
            if not await send_deferred(session, only_if_new=new):
                raise LookupError("taken")  # what idempotency.record does (KeyTaken)
    assert await rows(db, parents) == []
    assert await rows(db, keys) == [("s", "taken", "first")]


async def test_rows_left_deferred_go_in_before_the_commit_and_not_after_an_error(db: Database) -> None:
    async with db.transaction() as session:
        defer_inserts(session)
        await insert_rows(session, parents, [{"id": "p4", "total": Decimal("2.00"), "note": None, "at": AT}])
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            defer_inserts(session)
            await insert_rows(session, parents, [{"id": "p5", "total": Decimal("3.00"), "note": None, "at": AT}])
            raise RuntimeError("the use case failed")
    assert [r[0] for r in await rows(db, parents)] == ["p4"]


async def test_without_deferring_rows_are_sent_at_once(db: Database) -> None:
    sent = statements(db)
    async with db.transaction() as session:
        await insert_rows(session, parents, [{"id": "p6", "total": Decimal("4.00"), "note": None, "at": AT}])
        assert [s for s in sent if s != "BEGIN"] == ["INSERT"]
        assert [r[0] for r in (await session.execute(sa.select(parents.c.id)))] == ["p6"]  # readable at once
