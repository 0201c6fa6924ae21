"""Reads: ``GET /customers/{id}``, ``GET /customers?limit=50`` (customers service) and
``GET /orders?limit=50`` (orders service), on PostgreSQL at c=16, against a bare asyncpg SELECT
returning the same rows (``bench.baselines pg-read``).

    python -m bench.reads [--quick] [--postgres URL] [--kafka BOOTSTRAP]

Customers (with tags, half with an e-mail consent) are registered through the customers API;
they reach the orders service through Kafka; orders are placed through the orders API. Also
reported: p50/p99, CPU per request of the service and of the baseline, and each service's
resident memory at rest and after the loads. A missed target gets a py-spy profile.
"""

from __future__ import annotations

import logging
import random
import uuid

from bench import seed
from bench.common import REPO_ROOT, BenchContext, Figure, cli, judge, median, plain_url
from bench.measure import Outcome, generator_share, paired_ratios
from bench.orders import orders_env, replicas_filled, upstreams
from bench.processes import ServiceProcess, baseline, load, profile_under_load, running_service, write_spec
from bench.profiles import summarise

log = logging.getLogger("bench")

CONCURRENCY = 16
BASELINE = "asyncpg, one SELECT of the same rows"


async def run(ctx: BenchContext) -> list[Figure]:
    customers_count, orders_count = (120, 150) if ctx.quick else (2000, 1000)
    deployment = uuid.uuid4().hex[:8]
    customers_db = await ctx.create_database()
    orders_db = await ctx.create_database()
    figures: list[Figure] = []
    async with upstreams(ctx, "reads", customers_db) as (customers, incentives, employee_ids):
        customers_at_rest = customers.rss_mib()
        customer_ids = await seed.register_customers(customers.url, customers_count, seed=11)
        async with running_service("orders", settings=orders_env(ctx, orders_db, f"orders-bench-reads-{deployment}",
                                                                 customers.url, incentives.url),
                                   work_dir=ctx.work_dir, label="orders-reads") as orders:
            orders_at_rest = orders.rss_mib()
            await replicas_filled(plain_url(orders_db), customer_ids, employee_ids)
            products = await seed.create_products(orders.url, 60, seed=12)
            await seed.place_orders(orders.url, customer_ids, products, orders_count)
            await seed.outbox_drained(plain_url(orders_db))

            reader = seed.token("analyst")
            sample = random.Random(13).sample(customer_ids, min(len(customer_ids), 500))
            cases = [
                ("GET /customers/{id}", customers, customers_db, "get-customer",
                 {"kind": "paths", "token": reader, "paths": [f"/customers/{i}" for i in sample], "ids": sample}),
                ("GET /customers?limit=50", customers, customers_db, "list-customers",
                 {"kind": "paths", "token": reader, "paths": ["/customers?limit=50"]}),
                ("GET /orders?limit=50", orders, orders_db, "list-orders",
                 {"kind": "paths", "token": reader, "paths": ["/orders?limit=50"]}),
            ]
            for endpoint, service, database, query, spec_data in cases:
                spec = write_spec(ctx.work_dir, f"reads-{query}-{deployment}", spec_data)
                figures += await _endpoint(ctx, endpoint, service, plain_url(database), query, spec)
            figures.append(_memory("orders service, PostgreSQL, reads", orders_at_rest, orders.rss_mib()))
        figures.append(_memory("customers service, PostgreSQL", customers_at_rest, customers.rss_mib()))
    return figures


async def _endpoint(ctx: BenchContext, endpoint: str, service: ServiceProcess, dsn: str, query: str,
                    spec) -> list[Figure]:
    ours: list[Outcome] = []
    theirs: list[Outcome] = []
    for rep in range(ctx.repetitions):
        for who in (("service", "baseline") if rep % 2 == 0 else ("baseline", "service")):
            if who == "service":
                ours.append(await load(service.url, spec, concurrency=CONCURRENCY, warmup=ctx.warmup,
                                       duration=ctx.duration, watch=[service.pid], postmaster=ctx.postmaster_pid))
            else:
                theirs.append(await baseline("pg-read", spec, concurrency=CONCURRENCY, dsn=dsn, query=query,
                                             warmup=ctx.warmup, duration=ctx.duration, postmaster=ctx.postmaster_pid))
    log.info("%s: service %s req/s, baseline %s req/s", endpoint, [round(o.throughput) for o in ours],
             [round(o.throughput) for o in theirs])
    prefix = f"{endpoint}, PostgreSQL, c={CONCURRENCY}"
    errors = {k: v for o in ours + theirs for k, v in o.errors.items()}

    def fig(what: str, unit: str, mine: list[float], base: list[float], target: str | None = None,
            notes: str = "") -> Figure:
        return judge(Figure(name=f"{prefix}: {what}", value=median(mine), unit=unit, baseline_name=BASELINE,
                            baseline=median(base), target=target, notes=notes, samples=mine))

    def cpu_ms(result: Outcome, key: str) -> float:
        return 1000 * result.cpu.get(key, float("nan")) / result.completed if result.completed else float("nan")

    figures = [
        fig("throughput", "requests/s", [o.throughput for o in ours], [o.throughput for o in theirs], ">= 0.3x",
            "; ".join(n for n in (paired_ratios([o.throughput for o in ours], [o.throughput for o in theirs]),
                                  generator_share(ours), f"failed requests: {errors}" if errors else "") if n)),
        fig("p50 latency", "ms", [o.p50_ms for o in ours], [o.p50_ms for o in theirs]),
        fig("p99 latency", "ms", [o.p99_ms for o in ours], [o.p99_ms for o in theirs]),
        fig("CPU per request, service process", "ms", [cpu_ms(o, str(service.pid)) for o in ours],
            [cpu_ms(o, "self") for o in theirs], notes="baseline: the script's own process"),
    ]
    if figures[0].met is False and ctx.profile:
        slug = query
        out = await profile_under_load(service, spec, concurrency=CONCURRENCY, seconds=ctx.profile_seconds,
                                       out=ctx.results_dir / f"profile-{slug}.txt")
        if out is not None:
            ctx.section("reads", f"Profile: {endpoint} at c={CONCURRENCY}",
                        f"Missed: {figures[0].name}.\n\n"
                        + summarise(out).markdown(f"{service.service} service under {endpoint}",
                                                  str(out.relative_to(REPO_ROOT))))
    return figures


def _memory(what: str, at_rest: float, after: float) -> Figure:
    return Figure(name=f"RSS after the loads, {what}", value=after, unit="MiB",
                  baseline_name="the same process at rest (just started, before seeding)", baseline=at_rest,
                  samples=[after])


if __name__ == "__main__":
    cli(run)
