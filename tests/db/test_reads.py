"""``Database.read``: a connection for read-only requests, with no BEGIN/COMMIT on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db.engine import Database

# A new transaction id for each statement that is a transaction of its own (autocommit); one id
# for every statement after a BEGIN.
TRANSACTION_ID = sa.text("SELECT txid_current()")


@pytest.mark.integration
async def test_a_postgres_read_runs_each_statement_without_begin_or_commit(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            first, second = [(await conn.execute(TRANSACTION_ID)).scalar_one() for _ in range(2)]
            assert first != second
            assert (await conn.execute(sa.text("SHOW transaction_isolation"))).scalar_one() == "read committed"
        async with db.transaction() as session:  # the pooled connection is transactional again
            first, second = [(await session.execute(TRANSACTION_ID)).scalar_one() for _ in range(2)]
            assert first == second
    finally:
        await db.dispose()


async def test_a_sqlite_read_takes_its_turn_like_a_transaction(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    try:
        async with db.read() as conn:
            assert db._turn().locked()  # queued with the writers (BEGIN IMMEDIATE), as before
            assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
        assert not db._turn().locked()
    finally:
        await db.dispose()
