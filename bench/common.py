"""The shapes every benchmark shares (see the bench interface).

Minimal version made on the ``bus`` branch for ``bench/relay.py``; the bench helper's
``bench/common.py`` (with ``bench/run.py``) supersedes it when the branches are merged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url


@dataclass
class Figure:
    name: str  # e.g. "relay events/s, 50 keys, PostgreSQL"
    value: float  # the median of the repetitions
    unit: str  # "events/s", "orders/s", "ms", "round trips", "MiB"
    baseline_name: str | None = None  # e.g. "raw producer, per-key order kept"
    baseline: float | None = None  # the baseline's median, measured in the same run
    target: str | None = None  # e.g. ">= 0.7x"; None when there is no target
    met: bool | None = None  # target met?
    notes: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline


@dataclass
class BenchContext:
    quick: bool
    repetitions: int  # 3
    postgres_admin_url: str  # a server where the bench may create throwaway databases
    kafka_bootstrap: str
    work_dir: Path  # scratch space (SQLite files)

    async def create_database(self) -> str:
        """An empty database's asyncpg URL (postgresql+asyncpg://...)."""
        name = f"bench_{uuid.uuid4().hex[:12]}"
        admin = make_url(self.postgres_admin_url).set(drivername="postgresql")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
