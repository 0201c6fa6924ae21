"""Order intake: ``POST /orders`` (2-3 lines) on PostgreSQL and on SQLite, against plain drivers.

    python -m bench.orders [--quick] [--postgres URL] [--kafka BOOTSTRAP]

Set-up, the realistic path: customers are registered with the customers service and reach the
orders service's replica through ``customers.customer.registered`` on Kafka; products, a loyalty
program with three tiers and a purchase history (placed and paid orders) go through the orders
API. Each orders instance is a deployment of its own (its own database and consumer group, named
by ``ORDERS_SERVICE_NAME``), so it reads the customers topic from the beginning.

Measured, at concurrency 1, 16 and 64, 3 repetitions alternating with the baseline:
- orders/s, p50 and p99 of the service (load generator in its own process, a fresh
  Idempotency-Key per order) and of the baseline (``bench.baselines``: asyncpg writing the same
  rows in one transaction per order; sqlite3 with one competing connection per worker);
- CPU ms per order of the service process (relay publishing included: it runs in the process)
  and of the baseline's process; on the bench's own PostgreSQL, the server's CPU per order too;
- round trips and statements per order (PostgreSQL, c=1, through ``bench.roundtrips``) in a
  pass of their own with the bus disabled, so only the request path is counted.
A missed target gets a py-spy profile of the service at c=16.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench import seed
from bench.common import REPO_ROOT, BenchContext, Figure, cli, judge, median, plain_url
from bench.measure import Outcome, generator_share, paired_ratios
from bench.processes import (
    ServiceProcess,
    baseline,
    load,
    profile_under_load,
    running_service,
    service_settings,
    start_service,
    stop_service,
    write_spec,
)
from bench.procstat import children
from bench.profiles import summarise
from bench.roundtrips import (
    RoundTripProxy,
    host_port,
    reset_statements,
    statements,
    statements_markdown,
    through_proxy,
)
from shared.db.migrations import upgrade_to_head

log = logging.getLogger("bench")

ORDERS_MIGRATIONS = REPO_ROOT / "services" / "orders" / "migrations"
CONCURRENCIES = (1, 16, 64)
TARGET_CONCURRENCY = 16
COPIED_TABLES = ("product", "loyalty_account")  # what the baseline needs to price and lock like the service


@dataclass(frozen=True)
class Sizes:
    customers: int
    products: int
    history_customers: int
    history_orders_each: int
    round_trip_orders: int

    @classmethod
    def of(cls, ctx: BenchContext) -> Sizes:
        if ctx.quick:
            return cls(customers=200, products=40, history_customers=20, history_orders_each=3, round_trip_orders=40)
        return cls(customers=2000, products=300, history_customers=200, history_orders_each=3, round_trip_orders=300)


def orders_env(ctx: BenchContext, database_url: str, name: str, customers_url: str, incentives_url: str, *,
               bus: bool = True) -> dict:
    return service_settings("orders", database_url=database_url, kafka_bootstrap=ctx.kafka_bootstrap,
                            service_name=name, customers_url=customers_url, incentives_url=incentives_url,
                            bus_enabled=bus)


def incentives_env(ctx: BenchContext, database_url: str) -> dict:
    return service_settings("incentives", database_url=database_url, kafka_bootstrap=ctx.kafka_bootstrap)


@asynccontextmanager
async def upstreams(ctx: BenchContext, label: str, customers_db: str
                    ) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess, list[str]]]:
    """What an orders deployment relies on: customers (its customer replica, on ``customers_db``)
    and incentives (its staff replica: every order names a sales employee, on a database of its
    own), with the bench's employees hired; yields both services and the employee ids."""
    incentives_db = await ctx.create_database()
    async with running_service("customers", settings=customers_env(ctx, customers_db), work_dir=ctx.work_dir,
                               label=f"customers-{label}") as customers, \
            running_service("incentives", settings=incentives_env(ctx, incentives_db), work_dir=ctx.work_dir,
                            label=f"incentives-{label}") as incentives:
        yield customers, incentives, await seed.register_employees(incentives.url)


async def replicas_filled(database: str, customer_ids: list[str], employee_ids: list[str]) -> None:
    """Wait until an orders database has every customer and employee from Kafka, so no measured
    order takes the HTTP fallback."""
    await seed.wait_for_ids(database, "customer_replica", "customer_id", customer_ids)
    await seed.wait_for_ids(database, "staff_member", "employee_id", employee_ids)


def customers_env(ctx: BenchContext, database_url: str) -> dict:
    return service_settings("customers", database_url=database_url, kafka_bootstrap=ctx.kafka_bootstrap)


# ----- the run ----------------------------------------------------------------------------------------

async def run(ctx: BenchContext) -> list[Figure]:
    sizes = Sizes.of(ctx)
    deployment = uuid.uuid4().hex[:8]
    customers_db = await ctx.create_database()
    orders_db = await ctx.create_database()
    baseline_db = await ctx.create_database()
    sqlite_file = ctx.work_dir / f"orders-{deployment}.db"
    sqlite_baseline = ctx.work_dir / f"orders-baseline-{deployment}.db"
    figures: list[Figure] = []

    async with upstreams(ctx, "for-orders", customers_db) as (customers, incentives, employee_ids):
        customer_ids = await seed.register_customers(customers.url, sizes.customers)
        pg_name = f"orders-bench-pg-{deployment}"
        service = await start_service("orders", settings=orders_env(ctx, orders_db, pg_name, customers.url,
                                                                    incentives.url),
                                      work_dir=ctx.work_dir, label="orders-postgresql")
        try:
            at_rest = service.rss_mib()
            await replicas_filled(plain_url(orders_db), customer_ids, employee_ids)
            products = await _seed_orders_service(service, customer_ids, sizes)
            await seed.outbox_drained(plain_url(orders_db))
            await upgrade_to_head(database_url=baseline_db, migrations_dir=ORDERS_MIGRATIONS)
            await _copy_postgres(plain_url(orders_db), plain_url(baseline_db), COPIED_TABLES)
            spec = write_spec(ctx.work_dir, f"orders-{deployment}", {
                "kind": "orders", "token": seed.token("manager"), "customer_ids": customer_ids,
                "product_ids": products, "employees": seed.EMPLOYEES, "lines": [2, 3]})
            pg_figures = await _intake(ctx, "PostgreSQL", service, spec, database=plain_url(orders_db),
                                       run_baseline=lambda c: baseline(
                                           "pg-orders", spec, concurrency=c, dsn=plain_url(baseline_db),
                                           warmup=ctx.warmup, duration=ctx.duration,
                                           postmaster=ctx.postmaster_pid))
            figures += pg_figures
            figures.append(_memory_figure("orders service, PostgreSQL", at_rest, service.rss_mib()))
            _note_errors(figures, service)
        finally:
            await stop_service(service)
        figures += await _scaling(ctx, orders_env(ctx, orders_db, pg_name, customers.url, incentives.url), spec,
                                  plain_url(orders_db), pg_figures)
        figures += await _round_trips(ctx, orders_db, baseline_db, pg_name, customers.url, incentives.url, spec,
                                      sizes)

        # SQLite: another deployment of the service, reading the same customers topic into its own file.
        sqlite_url = f"sqlite+aiosqlite:///{sqlite_file}"
        sqlite_name = f"orders-bench-sqlite-{deployment}"
        service = await start_service("orders", settings=orders_env(ctx, sqlite_url, sqlite_name, customers.url,
                                                                    incentives.url),
                                      work_dir=ctx.work_dir, label="orders-sqlite")
    try:
        at_rest = service.rss_mib()
        await replicas_filled(str(sqlite_file), customer_ids, employee_ids)
        products = await _seed_orders_service(service, customer_ids, sizes)
        await seed.outbox_drained(str(sqlite_file))
        await upgrade_to_head(database_url=f"sqlite+aiosqlite:///{sqlite_baseline}", migrations_dir=ORDERS_MIGRATIONS)
        await asyncio.to_thread(_copy_sqlite, sqlite_file, sqlite_baseline, COPIED_TABLES)
        spec = write_spec(ctx.work_dir, f"orders-sqlite-{deployment}", {
            "kind": "orders", "token": seed.token("manager"), "customer_ids": customer_ids,
            "product_ids": products, "employees": seed.EMPLOYEES, "lines": [2, 3]})
        figures += await _intake(ctx, "SQLite", service, spec, database=str(sqlite_file),
                                 run_baseline=lambda c: baseline("sqlite-orders", spec, concurrency=c,
                                                                 path=sqlite_baseline, warmup=ctx.warmup,
                                                                 duration=ctx.duration))
        figures.append(_memory_figure("orders service, SQLite", at_rest, service.rss_mib()))
        _note_errors(figures, service)
    finally:
        await stop_service(service)
    return figures


async def _seed_orders_service(service: ServiceProcess, customer_ids: list[str], sizes: Sizes) -> list[str]:
    products = await seed.create_products(service.url, sizes.products)
    await seed.set_loyalty_program(service.url)
    await seed.purchase_history(service.url, customer_ids[: sizes.history_customers], products,
                                orders_per_customer=sizes.history_orders_each)
    return products


# ----- throughput, latency, CPU -------------------------------------------------------------------------

def _cpu_ms_per_op(result: Outcome, key: str) -> float:
    return 1000 * result.cpu.get(key, float("nan")) / result.completed if result.completed else float("nan")


async def _intake(ctx: BenchContext, db: str, service: ServiceProcess, spec: Path, *, database: str,
                  run_baseline) -> list[Figure]:
    baseline_name = ("asyncpg script, same rows, one transaction per order" if db == "PostgreSQL"
                     else "sqlite3 script, same rows, one connection per worker")
    figures: list[Figure] = []
    for concurrency in CONCURRENCIES:
        ours: list[Outcome] = []
        theirs: list[Outcome] = []
        for rep in range(ctx.repetitions):
            # Alternate who goes first, so a drift in the machine's load favours neither.
            for who in (("service", "baseline") if rep % 2 == 0 else ("baseline", "service")):
                if who == "service":
                    await seed.outbox_drained(database)
                    ours.append(await load(service.url, spec, concurrency=concurrency, warmup=ctx.warmup,
                                           duration=ctx.duration, watch=[service.pid],
                                           postmaster=ctx.postmaster_pid if db == "PostgreSQL" else None))
                else:
                    theirs.append(await run_baseline(concurrency))
        log.info("orders %s c=%d: service %s orders/s, baseline %s orders/s", db, concurrency,
                 [round(o.throughput) for o in ours], [round(o.throughput) for o in theirs])
        figures += _intake_figures(db, concurrency, ours, theirs, baseline_name, service.pid)
    for figure in figures:
        judge(figure)
    missed = [f for f in figures if f.met is False]
    if missed and ctx.profile:
        await _profile(ctx, db, service, spec, missed)
    return figures


def _errors_note(results: list[Outcome]) -> str:
    errors: dict[str, int] = {}
    for result in results:
        for key, count in result.errors.items():
            errors[key] = errors.get(key, 0) + count
    return f"failed operations in the windows: {errors}" if errors else ""


def _intake_figures(db: str, c: int, ours: list[Outcome], theirs: list[Outcome], baseline_name: str,
                    pid: int) -> list[Figure]:
    at_target = c == TARGET_CONCURRENCY
    prefix = f"POST /orders, {db}, c={c}"
    note = "; ".join(n for n in (paired_ratios([o.throughput for o in ours], [o.throughput for o in theirs]),
                                 generator_share(ours), _errors_note(ours),
                                 _errors_note(theirs) and "baseline " + _errors_note(theirs)) if n)

    def fig(what: str, unit: str, mine: list[float], base: list[float], target: str | None = None,
            notes: str = "") -> Figure:
        return Figure(name=f"{prefix}: {what}", value=median(mine), unit=unit, baseline_name=baseline_name,
                      baseline=median(base), target=target, notes=notes, samples=mine)

    figures = [
        fig("throughput", "orders/s", [o.throughput for o in ours], [o.throughput for o in theirs],
            ">= 0.3x" if at_target and db == "PostgreSQL" else None, note),
        fig("p50 latency", "ms", [o.p50_ms for o in ours], [o.p50_ms for o in theirs]),
        fig("p99 latency", "ms", [o.p99_ms for o in ours], [o.p99_ms for o in theirs],
            "<= 2x" if at_target and db == "SQLite" else None,
            paired_ratios([o.p99_ms for o in ours], [o.p99_ms for o in theirs]) if at_target else ""),
        fig("CPU per order, service process", "ms", [_cpu_ms_per_op(o, str(pid)) for o in ours],
            [_cpu_ms_per_op(o, "self") for o in theirs], "<= 3 ms" if at_target and db == "PostgreSQL" else None,
            "baseline: the script's own process"),
    ]
    if all("postgres" in o.cpu for o in ours + theirs):
        figures.append(fig("CPU per order, PostgreSQL server", "ms", [_cpu_ms_per_op(o, "postgres") for o in ours],
                           [_cpu_ms_per_op(o, "postgres") for o in theirs]))
    return figures


def _memory_figure(what: str, at_rest: float, after: float) -> Figure:
    return Figure(name=f"RSS after the loads, {what}", value=after, unit="MiB",
                  baseline_name="the same process at rest (just started, before seeding)", baseline=at_rest,
                  samples=[after])


def _note_errors(figures: list[Figure], service: ServiceProcess) -> None:
    logged = service.errors_logged()
    if logged:
        log.warning("%s logged %d errors, e.g. %s", service.service, len(logged), logged[0])
        figures[-1].notes = (figures[-1].notes + f"; the service logged {len(logged)} errors").strip("; ")


async def _profile(ctx: BenchContext, db: str, service: ServiceProcess, spec: Path, missed: list[Figure]) -> None:
    slug = f"orders-{db.lower()}-c{TARGET_CONCURRENCY}"
    # A latency target (SQLite's p99) is about waiting, which a wall-clock profile shows; others get on-CPU samples.
    wall_clock = all("latency" in f.name for f in missed)
    out = await profile_under_load(service, spec, concurrency=TARGET_CONCURRENCY, seconds=ctx.profile_seconds,
                                   out=ctx.results_dir / f"profile-{slug}.txt", wall_clock=wall_clock)
    if out is None:
        return
    relative = out.relative_to(REPO_ROOT)
    summary = summarise(out)
    ctx.section("orders", f"Profile: POST /orders on {db} at c={TARGET_CONCURRENCY}",
                "Missed: " + ", ".join(f"{f.name}" for f in missed) + ".\n\n"
                + summary.markdown(f"orders service ({db}) under c={TARGET_CONCURRENCY} load", str(relative),
                                   wall_clock=wall_clock))


# ----- past one core -------------------------------------------------------------------------------------

SCALING_WORKERS = 2


async def _scaling(ctx: BenchContext, env: dict, spec: Path, database: str, one_worker: list[Figure]) -> list[Figure]:
    """The same deployment served by two worker processes (PostgreSQL only: SQLite stays one
    process by design, one writer per file): throughput at c=16 and c=64 against the one-worker
    figures of the same run. The relay's advisory lock keeps one publisher among the workers."""
    service = await start_service("orders", settings=env, work_dir=ctx.work_dir, label="orders-postgresql-2-workers",
                                  workers=SCALING_WORKERS)
    figures: list[Figure] = []
    try:
        for concurrency in (TARGET_CONCURRENCY, 64):
            single = next(f for f in one_worker if f.name == f"POST /orders, PostgreSQL, c={concurrency}: throughput")
            runs: list[Outcome] = []
            workers = children(service.pid)
            for _ in range(ctx.repetitions):
                await seed.outbox_drained(database)
                runs.append(await load(service.url, spec, concurrency=concurrency, warmup=ctx.warmup,
                                       duration=ctx.duration, watch=workers, postmaster=ctx.postmaster_pid))
            throughputs = [o.throughput for o in runs]
            log.info("orders PostgreSQL c=%d, %d workers: %s orders/s", concurrency, SCALING_WORKERS,
                     [round(t) for t in throughputs])
            figures.append(Figure(
                name=f"POST /orders, PostgreSQL, c={concurrency}, {SCALING_WORKERS} worker processes: throughput",
                value=median(throughputs), unit="orders/s", baseline_name="the same service, one worker process",
                baseline=single.value, samples=throughputs,
                notes="; ".join(n for n in (_cores_used(runs, workers), generator_share(runs), _errors_note(runs))
                                if n)))
    finally:
        await stop_service(service)
    return figures


def _cores_used(runs: list[Outcome], workers: list[int]) -> str:
    """Where the machine's two cores went during the windows: the ceiling a second worker meets."""
    def cores(keys: list[str]) -> float:
        return median([sum(r.cpu.get(k, 0.0) for k in keys) / r.elapsed for r in runs if r.elapsed > 0])

    shares = [f"the service's worker processes {cores([str(pid) for pid in workers]):.2f} cores"]
    if any("postgres" in r.cpu for r in runs):
        shares.append(f"PostgreSQL {cores(['postgres']):.2f}")
    shares.append(f"the load generator {cores(['self']):.2f}")
    return "CPU in the window (of 2 cores): " + ", ".join(shares)


# ----- round trips ----------------------------------------------------------------------------------------

async def _round_trips(ctx: BenchContext, orders_db: str, baseline_db: str, name: str, customers_url: str,
                       incentives_url: str, spec: Path, sizes: Sizes) -> list[Figure]:
    """Round trips (and statements) per order at c=1, the service with its bus off, both through the proxy."""
    proxy = await RoundTripProxy(*host_port(orders_db)).start()
    try:
        service = await start_service("orders", settings=orders_env(ctx, through_proxy(orders_db, proxy), name,
                                                                    customers_url, incentives_url, bus=False),
                                      work_dir=ctx.work_dir, label="orders-postgresql-round-trips")
        try:
            await load(service.url, spec, concurrency=1, requests=20)  # connections and prepared statements
            proxy.reset()
            if ctx.pg_stat_statements:
                await reset_statements(ctx.postgres_admin_url)
            result = await load(service.url, spec, concurrency=1, requests=sizes.round_trip_orders)
            if result.errors:  # a replayed or refused order is not one order's round trips
                raise RuntimeError(f"the round-trip run was not all new orders: {dict(result.errors)}")
            ours = proxy.round_trips / result.completed
            our_statements = (await statements(ctx.postgres_admin_url, orders_db.rsplit("/", 1)[1])
                              if ctx.pg_stat_statements else [])
        finally:
            await stop_service(service)
        # The baseline is a fresh process each run: the difference of two runs leaves out its
        # connection and first prepares, as the service's warm-up does.
        counts, statement_counts = [], []
        for requests in (20, 20 + sizes.round_trip_orders):
            proxy.reset()
            if ctx.pg_stat_statements:
                await reset_statements(ctx.postgres_admin_url)
            done = await baseline("pg-orders", spec, concurrency=1, dsn=through_proxy(plain_url(baseline_db), proxy),
                                  requests=requests)
            counts.append((proxy.round_trips, done.completed))
            if ctx.pg_stat_statements:
                found = await statements(ctx.postgres_admin_url, baseline_db.rsplit("/", 1)[1])
                statement_counts.append(sum(s.calls for s in found))
        theirs = (counts[1][0] - counts[0][0]) / (counts[1][1] - counts[0][1])
    finally:
        await proxy.stop()
    figures = [judge(Figure(name="POST /orders, PostgreSQL, c=1: round trips per order", value=ours,
                            unit="round trips", baseline_name="asyncpg script, same rows", baseline=theirs,
                            target="<= 8", samples=[ours],
                            notes="request path only (bus off); counted on the wire by a proxy"))]
    if ctx.pg_stat_statements:
        per_order = sum(s.calls for s in our_statements) / result.completed
        baseline_per_order = (statement_counts[1] - statement_counts[0]) / (counts[1][1] - counts[0][1])
        figures.append(Figure(name="POST /orders, PostgreSQL, c=1: statements per order", value=per_order,
                              unit="statements", baseline_name="asyncpg script, same rows",
                              baseline=baseline_per_order, samples=[per_order],
                              notes="pg_stat_statements calls, BEGIN/COMMIT included"))
        ctx.section("orders", "Statements of one POST /orders (PostgreSQL, pg_stat_statements)",
                    f"{result.completed} orders at c=1 with the bus off; {ours:.1f} round trips and "
                    f"{per_order:.1f} statements per order (the asyncpg script: {theirs:.1f} and "
                    f"{baseline_per_order:.1f}).\n\n" + statements_markdown(our_statements, result.completed))
    return figures


# ----- copying the catalogue to the baselines' databases ------------------------------------------------

async def _copy_postgres(source: str, target: str, tables: tuple[str, ...]) -> None:
    src, dst = await asyncpg.connect(source), await asyncpg.connect(target)
    try:
        for table in tables:
            rows = await src.fetch(f"SELECT * FROM {table}")
            if rows:
                await dst.copy_records_to_table(table, records=[tuple(r) for r in rows], columns=list(rows[0].keys()))
    finally:
        await src.close()
        await dst.close()


def _copy_sqlite(source: Path, target: Path, tables: tuple[str, ...]) -> None:
    conn = sqlite3.connect(target, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS source", (str(source),))
        for table in tables:
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}")
        conn.commit()
    finally:
        conn.close()


if __name__ == "__main__":
    cli(run)
