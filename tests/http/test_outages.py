"""A database outage is a 503 with Retry-After, logged once; a bug is a 500, logged once (PITFALLS 22).

Against a PostgreSQL server of this module's own, which the tests stop and start, and the
customers app served by uvicorn as in production: connection refused, every pooled connection
busy, and the connection dropped in the middle of a transaction. Each answer must come back on
the same kept-alive connection, with exactly one JSON log line carrying the request's id, and no
second, plain-text traceback from the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.db.outages import is_database_outage
from shared.infra.postgres import LocalPostgres
from shared.observability.logging import JsonFormatter
from shared.testing.apps import free_port, served
from tests.http.conftest import MANAGER, person, service_app
from tests.http.rawhttp import RawConnection, RawResponse

pytestmark = pytest.mark.integration

SECOND_TRACEBACK = "Exception in ASGI application"


@pytest.fixture(scope="module")
async def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalPostgres]:
    """A server only this module uses, so stopping it disturbs no other test."""
    folder: Path = tmp_path_factory.mktemp("outage-pg")
    server = LocalPostgres(datadir=folder / "data", port=free_port())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def running(own_postgres: LocalPostgres) -> AsyncIterator[LocalPostgres]:
    """The server, up at the start of the test and again at its end, whatever the test did."""
    await asyncio.to_thread(own_postgres.start)
    yield own_postgres
    await asyncio.to_thread(own_postgres.start)


async def _customers_app(server: LocalPostgres) -> FastAPI:
    name = f"outage_{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(server.create_database, name)
    return service_app("customers", server.url(name))


class JsonLines(logging.Handler):
    """The log lines as the services write them (formatted when emitted, so the correlation id is in)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.formatter_ = JsonFormatter("test")
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.formatter_.format(record)))

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("correlation_id") == request_id]


@pytest.fixture
def log_lines() -> Iterator[JsonLines]:
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def assert_logged_once(lines: JsonLines, request_id: str, level: str, capfd: pytest.CaptureFixture[str]) -> None:
    own = lines.of(request_id)
    assert len(own) == 1, own
    assert own[0]["level"] == level
    assert not [line for line in lines.lines if SECOND_TRACEBACK in line["msg"]]
    assert SECOND_TRACEBACK not in capfd.readouterr().err


def assert_outage_answer(response: RawResponse) -> None:
    assert response.status == 503, response.body
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"] == "/problems/database-unavailable"


async def register(connection: RawConnection, request_id: str) -> RawResponse:
    return await connection.request("POST", "/customers", json_body=person(),
                                    headers={**MANAGER, "X-Request-ID": request_id})


async def test_connection_refused_is_503_and_the_service_recovers(
        running: LocalPostgres, log_lines: JsonLines, capfd: pytest.CaptureFixture[str]) -> None:
    app = await _customers_app(running)
    async with served(app) as base_url:
        connection = await RawConnection.open(base_url)
        assert (await register(connection, "before")).status == 201  # pooled connections exist now
        await asyncio.to_thread(running.stop)
        capfd.readouterr()
        for attempt in range(3):  # dead pooled connections first, then refused new ones
            request_id = f"refused-{attempt}-{uuid.uuid4()}"
            assert_outage_answer(await register(connection, request_id))  # on the same kept-alive connection
            assert_logged_once(log_lines, request_id, "warning", capfd)
        await asyncio.to_thread(running.start)
        assert (await register(connection, "after")).status == 201
        await connection.close()


async def test_every_pooled_connection_busy_is_503(running: LocalPostgres, log_lines: JsonLines,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    app = await _customers_app(running)
    db = app.state.runtime.db
    # A pool of one that waits briefly: the test holds the one connection, as a burst of requests would.
    await db.engine.dispose()
    db.engine = create_async_engine(db.url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    db.sessionmaker = async_sessionmaker(db.engine, expire_on_commit=False, sync_session_class=db.sync_session_class)
    async with served(app) as base_url:
        connection = await RawConnection.open(base_url)
        async with db.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            capfd.readouterr()
            request_id = f"pool-{uuid.uuid4()}"
            assert_outage_answer(await register(connection, request_id))
            assert_logged_once(log_lines, request_id, "warning", capfd)
        assert (await register(connection, "freed")).status == 201
        await connection.close()


async def test_a_connection_dropped_mid_transaction_is_503(running: LocalPostgres, log_lines: JsonLines,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    app = await _customers_app(running)
    database = app.state.runtime.db.engine.url.database
    async with served(app) as base_url:
        connection = await RawConnection.open(base_url)
        assert (await register(connection, "warm-up")).status == 201
        admin = await asyncpg.connect(running.url(database, driver=None))
        try:
            locker = admin.transaction()
            await locker.start()
            # The request reads the identifiers, then waits here to insert the customer.
            await admin.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")
            request_id = f"dropped-{uuid.uuid4()}"
            pending = asyncio.create_task(register(connection, request_id))
            pid = None
            for _ in range(600):
                pid = await admin.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", database)
                if pid is not None or pending.done():
                    break
                await asyncio.sleep(0.05)
            assert pid is not None, "the request never waited on the lock"
            capfd.readouterr()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            await locker.rollback()
            assert_outage_answer(await pending)
            assert_logged_once(log_lines, request_id, "warning", capfd)
        finally:
            await admin.close()
        assert (await register(connection, "after")).status == 201  # the pool replaced the connection
        await connection.close()


async def test_an_unexpected_error_is_one_json_500_line_and_no_second_traceback(
        running: LocalPostgres, log_lines: JsonLines, capfd: pytest.CaptureFixture[str]) -> None:
    app = await _customers_app(running)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken, methods=["GET"])
    async with served(app) as base_url:
        connection = await RawConnection.open(base_url)
        capfd.readouterr()
        request_id = f"bug-{uuid.uuid4()}"
        response = await connection.request("GET", "/broken", headers={"X-Request-ID": request_id})
        assert response.status == 500 and response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == request_id
        assert_logged_once(log_lines, request_id, "error", capfd)
        line = log_lines.of(request_id)[0]
        assert "RuntimeError: a bug" in line["exc"]
        assert (await connection.request("GET", "/healthz")).status == 200  # still the same connection
        await connection.close()


def test_the_outage_classification_follows_explicit_causes_only() -> None:
    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_database_outage(wrapped)
    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError:
            raise KeyError("a bug while handling it") from None
    except KeyError as bug:
        assert not is_database_outage(bug)
    assert not is_database_outage(ValueError("nope"))
