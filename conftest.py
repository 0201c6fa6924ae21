"""Fixtures every test folder shares: the real broker, the real database server, tokens."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from shared.testing.apps import bearer
from shared.testing.infra import PostgresServer, drop_all, kafka_for_tests, postgres_for_tests


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with kafka_for_tests() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_for_tests() as server:
        yield server
        drop_all(server)


@pytest.fixture
async def database_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test."""
    name = await postgres.create_database()
    yield postgres.async_url(name)


@pytest.fixture(scope="module")
async def module_database_url(postgres: PostgresServer) -> str:
    """A fresh PostgreSQL database shared by the tests of one module (tests keep to their own rows)."""
    name = await postgres.create_database(prefix="m")
    return postgres.async_url(name)


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    return bearer


# ----- blocking the event loop (PITFALLS 10) ---------------------------------------------------
# Integration tests run with asyncio's debug mode, which reports every callback that held the
# loop longer than the threshold: sync I/O or heavy CPU inside async code starves Kafka
# heartbeats and HTTP alike. The reports are listed at the end of the run.
SLOW_CALLBACK_SECONDS = 0.5
_slow_callbacks: list[str] = []


class _SlowCallbackCollector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing ") and " took " in message:
            _slow_callbacks.append(message[:300])


@pytest.fixture(scope="session", autouse=True)
async def _asyncio_debug() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    handler = _SlowCallbackCollector(level=logging.WARNING)
    logging.getLogger("asyncio").addHandler(handler)
    yield
    logging.getLogger("asyncio").removeHandler(handler)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _slow_callbacks:
        terminalreporter.section(f"event loop blocked > {SLOW_CALLBACK_SECONDS}s ({len(_slow_callbacks)} times)")
        for line in _slow_callbacks[:20]:
            terminalreporter.write_line(line)
