"""Where the tests' Kafka broker and PostgreSQL server come from.

In order: the ones named by environment variables; testcontainers when a Docker engine answers;
otherwise local ones started from the machine's own packages (``shared.infra``). There is no
fourth option: when none works the session fails loudly, it never skips the integration tests.

- ``PELANGGAN_TEST_KAFKA_BOOTSTRAP``: e.g. ``127.0.0.1:9092``
- ``PELANGGAN_TEST_POSTGRES_URL``: an admin URL, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``;
  each test gets a database of its own created on that server.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.infra import run_sync
from shared.infra.kafka import DEFAULT_HOME, LocalKafka
from shared.infra.postgres import LocalPostgres
from shared.testing.apps import free_port

log = logging.getLogger(__name__)

# Local servers get free ports and folders of their own, so test sessions running side by side
# on one machine (a developer's and an editor's, say) never share or reset each other's broker.


@dataclass
class PostgresServer:
    """A server on which tests create and drop throwaway databases."""

    admin_url: str  # postgresql://user@host:port/db (no driver)
    created: list[str] = field(default_factory=list)

    def async_url(self, database: str) -> str:
        return str(make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=database)
                   .render_as_string(hide_password=False))

    async def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return name

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "no Docker here"
        return False


@contextmanager
def kafka_for_tests() -> Iterator[str]:
    """Yields the bootstrap address of the broker the tests use."""
    given = os.environ.get("PELANGGAN_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    if docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = _private_broker("session")
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
        shutil.rmtree(broker.home, ignore_errors=True)


@contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    given = os.environ.get("PELANGGAN_TEST_POSTGRES_URL")
    if given:
        yield PostgresServer(admin_url=given.replace("+asyncpg", ""))
        return
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield PostgresServer(admin_url=container.get_connection_url())
        return
    datadir = Path(tempfile.mkdtemp(prefix="pelanggan-test-pg-"))
    server = LocalPostgres(datadir=datadir / "data", port=free_port())
    server.start()
    try:
        yield PostgresServer(admin_url=server.url("postgres", driver=None))
    finally:
        server.stop()
        shutil.rmtree(datadir, ignore_errors=True)


def drop_all(server: PostgresServer) -> None:
    async def drop() -> None:
        for name in server.created:
            await server.drop_database(name)

    run_sync(drop)


def _private_broker(purpose: str) -> LocalKafka:
    home = Path(tempfile.mkdtemp(prefix=f"pelanggan-test-kafka-{purpose}-"))
    port = free_port()
    controller_port = free_port()
    while controller_port == port:
        controller_port = free_port()
    return LocalKafka(home=home, port=port, controller_port=controller_port, libs_dir=DEFAULT_HOME / "libs")


def outage_broker() -> LocalKafka:
    """A broker of the test's own, which it may stop and restart at will (remove ``.home`` after)."""
    return _private_broker("outage")

