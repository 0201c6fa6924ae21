"""Every service's migrations build exactly the tables its models (and the common ones) declare,
on PostgreSQL, and can be undone."""

from __future__ import annotations

import asyncio
import importlib

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pelanggan.services import built_services
from shared.db.base import shared_metadata
from shared.db.engine import Database
from shared.db.migrations import alembic_config, upgrade_to_head

pytestmark = pytest.mark.integration


def declared_tables(service: str) -> sa.MetaData:
    """The service's own tables and the common ones, as one metadata to compare the database with."""
    models = importlib.import_module(f"services.{service}.models")
    combined = sa.MetaData()
    for metadata in (models.metadata, shared_metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


@pytest.mark.parametrize("service", [spec.name for spec in built_services()])
async def test_the_migrations_match_the_models_and_downgrade(service: str, database_url: str) -> None:
    migrations = importlib.import_module(f"services.{service}.app").MIGRATIONS
    await upgrade_to_head(database_url=database_url, migrations_dir=migrations)
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            def diff(sync_conn: sa.Connection) -> list[object]:
                context = MigrationContext.configure(sync_conn, opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, *_: not (type_ == "table" and name == "alembic_version"),
                })
                return list(compare_metadata(context, declared_tables(service)))

            differences = await conn.run_sync(diff)
        assert differences == []

        config = alembic_config(database_url=database_url, migrations_dir=migrations)
        await asyncio.to_thread(command.downgrade, config, "base")
        async with db.engine.connect() as conn:
            left = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
    finally:
        await db.dispose()
