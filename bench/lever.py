"""One lever at a time: POST /orders on PostgreSQL against the asyncpg baseline, in a few minutes.

    python -m bench.lever [--bus-off] [--profile]      # REPS=3 for three pairs (default 2)
    python -m bench.lever --scaling                    # one worker process against two, in alternation

Not a module of ``make bench`` (no ``run``): the quick loop for measuring one change, run on
the commit before and the commit after it (the figures of ``bench/levers.md`` come from it).
It seeds a deployment as ``bench/orders.py`` does (customers and incentives, their replicas
filled from Kafka, products, a program and a purchase history), then measures the service and
the baseline in alternation at c=1 and c=16 (3 s windows) and prints the ratios and the
service's CPU per order; ``--profile`` adds py-spy's summary at c=16; ``--scaling`` then starts
the same deployment with two worker processes and alternates it with the one-worker service at
c=16 and c=64 (both deployments share the database and the relay's advisory lock).
"""
import asyncio
import os
import sys
import uuid

from bench import seed
from bench.common import bench_context, plain_url
from bench.orders import (
    COPIED_TABLES,
    ORDERS_MIGRATIONS,
    Sizes,
    _copy_postgres,
    _seed_orders_service,
    orders_env,
    replicas_filled,
    upstreams,
)
from bench.processes import baseline, load, profile_under_load, start_service, stop_service, write_spec
from bench.procstat import children
from bench.profiles import summarise
from shared.db.migrations import upgrade_to_head

PROFILE = "--profile" in sys.argv
BUS = "--bus-off" not in sys.argv
SCALING = "--scaling" in sys.argv
REPS = int(os.environ.get("REPS", "2"))


async def main() -> None:
    async with bench_context(quick=True, postgres=None, kafka=None, label="latest", profile=False,
                             keep=False) as ctx:
        sizes = Sizes.of(ctx)
        customers_db = await ctx.create_database()
        async with upstreams(ctx, "lever", customers_db) as (customers, incentives, employees):
            ids = await seed.register_customers(customers.url, sizes.customers)
            orders_db, baseline_db = await ctx.create_database(), await ctx.create_database()
            name = f"lever-{uuid.uuid4().hex[:6]}"

            def env(bus: bool) -> dict:
                return orders_env(ctx, orders_db, name, customers.url, incentives.url, bus=bus)

            svc = await start_service("orders", settings=env(True), work_dir=ctx.work_dir, label=name)
            try:
                await replicas_filled(plain_url(orders_db), ids, employees)
                products = await _seed_orders_service(svc, ids, sizes)
                await seed.outbox_drained(plain_url(orders_db))
                await upgrade_to_head(database_url=baseline_db, migrations_dir=ORDERS_MIGRATIONS)
                await _copy_postgres(plain_url(orders_db), plain_url(baseline_db), COPIED_TABLES)
                spec = write_spec(ctx.work_dir, name, {
                    "kind": "orders", "token": seed.token("manager"), "customer_ids": ids,
                    "product_ids": products, "employees": seed.EMPLOYEES, "lines": [2, 3]})
                if not BUS:  # the replicas are filled: the same deployment without its bus
                    await stop_service(svc)
                    svc = await start_service("orders", settings=env(False), work_dir=ctx.work_dir,
                                              label=f"{name}-no-bus")
                await load(svc.url, spec, concurrency=4, requests=300)  # connections, prepared statements
                for concurrency in (1, 16):
                    for _ in range(REPS):
                        if BUS:
                            await seed.outbox_drained(plain_url(orders_db))
                        ours = await load(svc.url, spec, concurrency=concurrency, warmup=0.5, duration=3,
                                          watch=[svc.pid])
                        theirs = await baseline("pg-orders", spec, concurrency=concurrency,
                                                dsn=plain_url(baseline_db), warmup=0.5, duration=3)
                        cpu = 1000 * ours.cpu.get(str(svc.pid), float("nan")) / max(1, ours.completed)
                        print(f"bus {'on' if BUS else 'off'} c={concurrency}: {ours.throughput:.0f} orders/s against "
                              f"{theirs.throughput:.0f} = {ours.throughput / theirs.throughput:.3f}x, "
                              f"p50 {ours.p50_ms:.1f} ms, CPU {cpu:.2f} ms per order, errors {ours.errors}",
                              flush=True)
                if SCALING:
                    await _one_worker_against_two(svc, env(BUS), spec, plain_url(orders_db), ctx.work_dir)
                if PROFILE:
                    out = ctx.results_dir / "profile-lever.txt"
                    await profile_under_load(svc, spec, concurrency=16, seconds=8, out=out)
                    print(summarise(out).markdown("orders service at c=16", str(out)), flush=True)
            finally:
                await stop_service(svc)


async def _one_worker_against_two(one, settings: dict, spec, database: str, work_dir) -> None:  # type: ignore[no-untyped-def]
    two = await start_service("orders", settings=settings, work_dir=work_dir, label="lever-2-workers", workers=2)
    try:
        await load(two.url, spec, concurrency=4, requests=300)
        for concurrency in (16, 64):
            for _ in range(REPS):
                figures = []
                for service in (one, two):
                    await seed.outbox_drained(database)
                    pids = [service.pid, *children(service.pid)]
                    outcome = await load(service.url, spec, concurrency=concurrency, warmup=0.5, duration=3,
                                         watch=pids)
                    figures.append(outcome.throughput)
                    print(f"  CPU (cores) by process: "
                          f"{ {k: round(v / outcome.elapsed, 2) for k, v in outcome.cpu.items()} }", flush=True)
                print(f"c={concurrency}: 1 worker {figures[0]:.0f} orders/s, 2 workers {figures[1]:.0f} orders/s "
                      f"= {figures[1] / figures[0]:.2f}x", flush=True)
    finally:
        await stop_service(two)


if __name__ == "__main__":
    asyncio.run(main())
