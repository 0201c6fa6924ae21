"""Alembic glue shared by every service: each service's ``migrations/env.py`` is two lines.

Migrations run at service start (``upgrade_to_head``), never ``create_all``. Alembic's env runs
its own event loop, so the upgrade is done in a worker thread and can be awaited from a lifespan.
On PostgreSQL an advisory lock keeps two replicas starting at once from migrating together.
"""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(*, database_url: str, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    return config


async def upgrade_to_head(*, database_url: str, migrations_dir: Path) -> None:
    config = alembic_config(database_url=database_url, migrations_dir=migrations_dir)
    await asyncio.to_thread(command.upgrade, config, "head")


def _run(connection: Connection, target_metadata: MetaData) -> None:
    if connection.dialect.name == "postgresql":
        lock_key = zlib.crc32(b"pelanggan-migrations")
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_from_env(target_metadata: MetaData) -> None:
    """Body of a service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_run, target_metadata)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())
