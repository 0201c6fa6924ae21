"""Many concurrent write transactions on one SQLite file: all succeed, in turn, none sees "database is locked"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from shared.db.engine import Database


async def test_concurrent_writers_on_one_sqlite_file_all_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE tally (n INTEGER NOT NULL)"))

        committed: list[int] = []

        async def writer(n: int) -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO tally (n) VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.01)  # the lock held across an await, as a request's work does
                await session.execute(text("UPDATE tally SET n = n WHERE n = :n"), {"n": n})
            committed.append(n)

        results = await asyncio.gather(*(writer(n) for n in range(64)), return_exceptions=True)
        assert [r for r in results if r is not None] == []
        assert committed == list(range(64))  # queued in the loop in arrival order, not by busy-retry luck
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT count(*) FROM tally"))).scalar_one() == 64
    finally:
        await db.dispose()
