"""Fixtures every test folder shares: the real broker, the real database server, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from shared.testing.apps import bearer
from shared.testing.infra import PostgresServer, drop_all, kafka_for_tests, postgres_for_tests


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with kafka_for_tests() as (bootstrap, _owned):
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


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    return bearer
