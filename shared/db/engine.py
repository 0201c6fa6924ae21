"""One async engine per service database, with the SQLite settings that keep writers from failing.

SQLite (the embedded default) gets WAL, a long busy timeout and ``BEGIN IMMEDIATE`` for every
transaction: a deferred transaction that reads and then writes fails at once with "database is
locked" when another writer got there first, whereas an immediate one waits its turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from shared.db.batch import DEFERRED_INSERTS, send_deferred

SQLITE_BUSY_TIMEOUT_MS = 30_000
SERVER_CONNECTION_RECYCLE_S = 300
# Connections a server pool keeps open, and how many more it may open in a burst (closed again
# when returned). Kept open: at least the requests one process has in flight (16 in the
# benchmarks). With 10 kept and 20 more allowed, every burst past 10 opened and closed
# connections, each a TLS handshake, an authentication and the driver's type introspection, with
# none of the prepared statements: a quarter of the CPU of GET /customers/{id}. The ceiling
# stays 30 per process.
SERVER_POOL_SIZE = 20
SERVER_POOL_OVERFLOW = 10


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that "begin" below decides the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and session factory of one service's database."""

    def __init__(self, url: str, *, pool_size: int = SERVER_POOL_SIZE,
                 max_overflow: int = SERVER_POOL_OVERFLOW) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            # No pre-ping: it costs a BEGIN/ROLLBACK round trip per checkout on every request. A
            # connection the server dropped fails its request with a 503 (shared/db/outages.py) and
            # SQLAlchemy then invalidates the whole pool, so the next request connects afresh;
            # recycling bounds how long an idle connection is trusted.
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=SERVER_CONNECTION_RECYCLE_S)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _prepare_sqlite(self.engine)
        # expire_on_commit=False: objects stay readable after commit without a lazy load,
        # which async SQLAlchemy cannot do (MissingGreenlet).
        # A Session subclass of our own, so session events can be listened to per database.
        self.sync_session_class: type[Session] = type("ServiceSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False,
                                               sync_session_class=self.sync_session_class)
        # SQLite has one writer and every transaction here is BEGIN IMMEDIATE: transactions of this
        # process queue on this lock (FIFO) in the event loop instead of spinning in SQLite's busy
        # back-off while the holder awaits, which made tails of seconds. PostgreSQL needs none.
        self._sqlite_turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._autocommit_of: tuple[AsyncEngine, AsyncEngine] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        if not self.is_sqlite:
            async with self.sessionmaker() as session, session.begin():
                yield session
                await _send_leftovers(session)
            return
        async with self._turn(), self.sessionmaker() as session, session.begin():
            yield session
            await _send_leftovers(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a request that only reads, with Core statements (no ORM session).

        On PostgreSQL the statements run in autocommit: at READ COMMITTED, the isolation every
        transaction here runs at, each statement sees its own snapshot inside a transaction as
        well, so BEGIN and COMMIT would add two round trips and no guarantee. A read that needs
        one snapshot across statements, or row locks, uses ``transaction()``. On SQLite a read
        takes the same turn and ``BEGIN IMMEDIATE`` as a transaction (the begin listener
        issues it on every connection), so it behaves exactly as before.
        """
        if not self.is_sqlite:
            async with self._autocommit().connect() as conn:
                yield conn
            return
        async with self._turn(), self.engine.begin() as conn:
            yield conn

    def _autocommit(self) -> AsyncEngine:
        # Derived from the engine in use (a test may swap it), once per engine.
        if self._autocommit_of is None or self._autocommit_of[0] is not self.engine:
            self._autocommit_of = (self.engine, self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        return self._autocommit_of[1]

    def _turn(self) -> asyncio.Lock:
        # One lock per event loop: a lock is bound to the loop it was first awaited in (tests run several).
        loop = asyncio.get_running_loop()
        if self._sqlite_turn is None or self._sqlite_turn[0] is not loop:
            self._sqlite_turn = (loop, asyncio.Lock())
        return self._sqlite_turn[1]

    async def check(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def journal_mode(self) -> str | None:
        if not self.is_sqlite:
            return None
        async with self.engine.connect() as conn:
            return (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()

    async def dispose(self) -> None:
        # aiosqlite keeps a worker thread per connection: without this the process hangs on exit.
        await self.engine.dispose()


async def _send_leftovers(session: AsyncSession) -> None:
    """Rows a hot path deferred (shared/db/batch.py) and did not send itself go in before the commit."""
    if session.info.get(DEFERRED_INSERTS):
        await send_deferred(session)
