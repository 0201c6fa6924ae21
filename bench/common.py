"""What every benchmark module shares: figures, the context, the infrastructure, the command line.

A benchmark module is ``bench/<name>.py`` with ``async def run(ctx: BenchContext) -> list[Figure]``;
``bench/run.py`` runs every such module and writes ``docs/benchmarks.md``. A module also runs
alone: ``python -m bench.<name> [--quick] [--postgres URL] [--kafka BOOTSTRAP]`` (call
``cli(run)`` under ``if __name__ == "__main__"``).

Rules (docs/benchmarks.md explains them): every figure is a ratio against a baseline measured in
the same run on the same broker and database; 3 repetitions, the median; load generators and
baselines run in processes of their own, apart from the service under test.

The helpers live in sibling modules: ``bench.processes`` (services under uvicorn, the load
generator, the baselines, profiles), ``bench.procstat`` (CPU and RSS from /proc),
``bench.roundtrips`` (PostgreSQL round trips and statements), ``bench.seed`` (demo data through
the services' APIs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

# The one place the bench imports the local infrastructure (change it here if it moves again). The
# fallback lets this harness measure code from before the helpers moved out of the CLI package.
try:
    from shared.infra.kafka import DEFAULT_HOME as KAFKA_HOME
    from shared.infra.kafka import KAFKA_VERSION, LocalKafka
    from shared.infra.postgres import LocalPostgres
except ImportError:  # pragma: no cover - older commits
    from pelanggan.infra.kafka import DEFAULT_HOME as KAFKA_HOME
    from pelanggan.infra.kafka import KAFKA_VERSION, LocalKafka
    from pelanggan.infra.postgres import LocalPostgres

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"

log = logging.getLogger("bench")

__all__ = ["KAFKA_VERSION", "REPO_ROOT", "RESULTS_DIR", "BenchContext", "Figure", "bench_context", "cli",
           "judge", "median"]


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
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


_TARGET = re.compile(r"^\s*(>=|<=)\s*([0-9]*\.?[0-9]+)\s*(x)?\b")


def judge(figure: Figure) -> Figure:
    """Set ``met`` from ``target``: ">= 0.3x" and "<= 2x" compare the ratio, "<= 8" or "<= 3 ms" the value."""
    if figure.target is None:
        figure.met = None
        return figure
    match = _TARGET.match(figure.target)
    if match is None:
        raise ValueError(f"cannot read target {figure.target!r} of {figure.name!r}")
    operator, bound, is_ratio = match.group(1), float(match.group(2)), bool(match.group(3))
    measured = figure.ratio if is_ratio else figure.value
    if measured is None or measured != measured:  # no baseline, or NaN
        figure.met = False
    else:
        figure.met = measured >= bound if operator == ">=" else measured <= bound
    return figure


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


@dataclass
class BenchContext:
    quick: bool
    repetitions: int  # 3
    postgres_admin_url: str  # a server where the bench may create throwaway databases
    kafka_bootstrap: str
    work_dir: Path  # scratch space (SQLite files, logs, spec files)
    # The PostgreSQL server's postmaster when the bench started the server itself (its CPU is then
    # measured too), and whether pg_stat_statements is loaded there (statements per order).
    postmaster_pid: int | None = None
    pg_stat_statements: bool = False
    # Where profiles are written (bench/results/<label>/), and extra report sections
    # (module, title, markdown) that modules add for docs/benchmarks.md.
    results_dir: Path = RESULTS_DIR / "latest"
    profile: bool = True
    sections: list[tuple[str, str, str]] = field(default_factory=list)
    created_databases: list[str] = field(default_factory=list)

    async def create_database(self) -> str:
        """An empty database's asyncpg URL (postgresql+asyncpg://...)."""
        name = f"bench_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.postgres_admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created_databases.append(name)
        return database_url(self.postgres_admin_url, name, driver="asyncpg")

    def section(self, module: str, title: str, markdown: str) -> None:
        self.sections.append((module, title, markdown))

    async def drop_databases(self) -> None:
        conn = await asyncpg.connect(self.postgres_admin_url)
        try:
            for name in self.created_databases:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self.created_databases.clear()

    # Sizes: quick runs must finish in minutes on a 2-core machine; full runs take their time.
    @property
    def warmup(self) -> float:
        return 0.5 if self.quick else 2.0

    @property
    def duration(self) -> float:
        return 1.5 if self.quick else 8.0

    @property
    def profile_seconds(self) -> float:
        return 2.0 if self.quick else 10.0


def database_url(admin_url: str, name: str, driver: str | None = None) -> str:
    """The URL of database ``name`` on the server of ``admin_url`` (``driver=None``: plain libpq form)."""
    scheme, rest = admin_url.split("://", 1)
    scheme = "postgresql" + (f"+{driver}" if driver else "")
    server = rest.rsplit("/", 1)[0]
    return f"{scheme}://{server}/{name}"


def plain_url(url: str) -> str:
    """asyncpg wants postgresql://, SQLAlchemy postgresql+asyncpg://."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


# ----- infrastructure -----------------------------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _enable_statement_statistics(server: LocalPostgres) -> bool:
    """Load pg_stat_statements (Debian's server package ships it) with utility statements tracked,
    so BEGIN/COMMIT count too. ALTER SYSTEM plus a restart: no change to the server helper."""
    admin = server.url("postgres", driver=None)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    finally:
        await conn.close()
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # Settings of a library exist only once it is loaded: set them after the restart.
        await conn.execute("ALTER SYSTEM SET pg_stat_statements.track_utility = on")
        await conn.execute("SELECT pg_reload_conf()")
        return True
    except asyncpg.PostgresError as exc:
        log.warning("pg_stat_statements unavailable: %s", exc)
        return False
    finally:
        await conn.close()


async def _statements_available(admin_url: str) -> bool:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
        return True
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()


@asynccontextmanager
async def bench_context(*, quick: bool, postgres: str | None = None, kafka: str | None = None,
                        label: str = "latest", profile: bool = True, keep: bool = False) -> AsyncIterator[BenchContext]:
    """A context on the given servers, or on a private broker and PostgreSQL started on free ports.

    ``keep`` leaves the scratch folder (services' logs, SQLite files, spec files) for a look after."""
    scratch = Path(tempfile.mkdtemp(prefix="pelanggan-bench-"))
    broker: LocalKafka | None = None
    server: LocalPostgres | None = None
    try:
        if kafka is None:
            broker = LocalKafka(home=scratch / "kafka", port=_free_port(), controller_port=_free_port(),
                                libs_dir=KAFKA_HOME / "libs")
            started = time.monotonic()
            await asyncio.to_thread(broker.start)
            log.info("Kafka broker on %s (%.1f s)", broker.bootstrap, time.monotonic() - started)
            kafka = broker.bootstrap
        postmaster = None
        if postgres is None:
            server = LocalPostgres(datadir=scratch / "postgres" / "data", port=_free_port())
            await asyncio.to_thread(server.start)
            statements = await _enable_statement_statistics(server)
            postgres = server.url("postgres", driver=None)
            postmaster = server.pid()
            log.info("PostgreSQL on %s (pg_stat_statements: %s)", postgres, statements)
        else:
            postgres = plain_url(postgres)
            statements = await _statements_available(postgres)
        ctx = BenchContext(
            quick=quick, repetitions=3, postgres_admin_url=postgres, kafka_bootstrap=kafka,
            work_dir=scratch / "work", postmaster_pid=postmaster, pg_stat_statements=statements,
            results_dir=RESULTS_DIR / label, profile=profile,
        )
        ctx.work_dir.mkdir(parents=True)
        ctx.results_dir.mkdir(parents=True, exist_ok=True)
        try:
            yield ctx
        finally:
            if server is None:
                await ctx.drop_databases()
    finally:
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        if server is not None:
            await asyncio.to_thread(server.stop)
        if keep:
            log.info("scratch folder kept: %s", scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


# ----- running one module alone -------------------------------------------------------------------

def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("pelanggan").setLevel(logging.WARNING)
    logging.getLogger("shared").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def cli(run: Callable[[BenchContext], Awaitable[list[Figure]]]) -> None:
    """``python -m bench.<name> [--quick] [--postgres URL] [--kafka BOOTSTRAP]``: run one module, print its figures."""
    from bench.report import figures_table

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes and short windows")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to use instead of a private one")
    parser.add_argument("--kafka", help="bootstrap address of a broker to use instead of a private one")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles of missed targets")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, SQLite files)")
    args = parser.parse_args()
    configure_logging()

    async def main() -> list[Figure]:
        async with bench_context(quick=args.quick, postgres=args.postgres, kafka=args.kafka,
                                 profile=not args.no_profile, keep=args.keep) as ctx:
            figures = await run(ctx)
            for _module, title, markdown in ctx.sections:
                print(f"\n## {title}\n\n{markdown}")
            return figures

    figures = asyncio.run(main())
    print()
    print(figures_table(figures))
