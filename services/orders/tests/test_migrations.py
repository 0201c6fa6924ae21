"""The migration builds exactly the tables the models declare, on PostgreSQL, and can be undone."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.orders.app import MIGRATIONS
from services.orders.models import metadata
from shared.db.engine import Database
from shared.db.migrations import alembic_config, upgrade_to_head

pytestmark = pytest.mark.integration

COMMON_TABLES = {"outbox", "inbox", "idempotency_key", "alembic_version"}


def service_objects_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # The common tables are declared by the shared package, not by these models.
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", None) not in COMMON_TABLES


async def test_the_migration_matches_the_models_and_downgrades(database_url: str) -> None:
    await upgrade_to_head(database_url=database_url, migrations_dir=MIGRATIONS)
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            def diff(sync_conn: sa.Connection) -> list[object]:
                context = MigrationContext.configure(sync_conn, opts={
                    "compare_type": True, "include_object": service_objects_only})
                return list(compare_metadata(context, metadata))

            differences = await conn.run_sync(diff)
        assert differences == []

        config = alembic_config(database_url=database_url, migrations_dir=MIGRATIONS)
        await asyncio.to_thread(command.downgrade, config, "base")
        async with db.engine.connect() as conn:
            left = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
    finally:
        await db.dispose()
