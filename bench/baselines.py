"""Plain-driver baselines, each run as a process of its own, like the service they are compared to:

    python -m bench.baselines pg-orders     --dsn postgresql://... --spec spec.json --concurrency 16 ...
    python -m bench.baselines sqlite-orders --path orders.db      --spec spec.json --concurrency 16 ...
    python -m bench.baselines pg-read       --dsn postgresql://... --spec spec.json --query get-customer ...

What a competent hand-written script does for the same job, with no framework in between:

- ``pg-orders``: ``concurrency`` asyncpg connections, each writing one order per transaction into a
  database with the orders service's schema: the loyalty account upserted and locked (returning
  the discount in force), the order row, its lines in one multi-row INSERT, the
  ``orders.order.placed`` outbox row and the idempotency row holding the response: 7 round trips
  (BEGIN, 5 statements, COMMIT). Prices come from the catalogue read once at start.
- ``sqlite-orders``: the same rows through the standard ``sqlite3`` module, one connection per
  thread (``concurrency`` competing connections), WAL, a 30 s busy timeout and ``BEGIN IMMEDIATE``
  as the service configures SQLite.
- ``pg-read``: ``concurrency`` asyncpg connections running one SELECT returning the rows an
  endpoint answers with (customer with tags and consents; a page of 50 customers; a page of 50
  orders with their lines).

Prints one JSON object (``bench.measure.Outcome``) whose ``cpu["self"]`` is this script's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sqlite3
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bench.measure import Window, outcome
from bench.procstat import CpuWatch

CENT = Decimal("0.01")
CURRENCY = "IDR"

ORDER_COLUMNS = ("id", "customer_id", "sales_employee_id", "channel", "currency", "status", "loyalty_tier",
                 "discount_percent", "gross", "discount", "net", "cost", "returned_gross", "returned_discount",
                 "returned_net", "returned_cost", "placed_by", "placed_at", "updated_at")
LINE_COLUMNS = ("id", "order_id", "line_no", "product_id", "sku", "name", "category", "quantity", "unit_price",
                "unit_cost", "discount_percent", "gross", "discount", "net", "cost", "returned_quantity",
                "returned_net")
OUTBOX_COLUMNS = ("event_id", "event_type", "topic", "key", "envelope", "created_at")
IDEMPOTENCY_COLUMNS = ("scope", "key", "fingerprint", "status_code", "response", "created_at")
ACCOUNT_COLUMNS = ("customer_id", "currency", "balance", "tier", "discount_percent", "created_at", "updated_at")
ACTOR = "bench"


def _placeholders(dialect: str, count: int, start: int = 1) -> str:
    if dialect == "sqlite":
        return ", ".join("?" for _ in range(count))
    return ", ".join(f"${n}" for n in range(start, start + count))


def order_statements(dialect: str, line_counts: list[int]) -> dict[str, Any]:
    account = (f"INSERT INTO loyalty_account ({', '.join(ACCOUNT_COLUMNS)}) "
               f"VALUES ({_placeholders(dialect, len(ACCOUNT_COLUMNS))}) "
               "ON CONFLICT (customer_id) DO UPDATE SET updated_at = excluded.updated_at "
               "RETURNING tier, discount_percent")
    order = (f"INSERT INTO sales_order ({', '.join(ORDER_COLUMNS)}) "
             f"VALUES ({_placeholders(dialect, len(ORDER_COLUMNS))})")
    lines = {}
    width = len(LINE_COLUMNS)
    for count in line_counts:
        rows = ", ".join(f"({_placeholders(dialect, width, 1 + n * width)})" for n in range(count))
        lines[count] = f"INSERT INTO order_line ({', '.join(LINE_COLUMNS)}) VALUES {rows}"
    outbox = f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}) VALUES ({_placeholders(dialect, len(OUTBOX_COLUMNS))})"
    idempotency = (f"INSERT INTO idempotency_key ({', '.join(IDEMPOTENCY_COLUMNS)}) "
                   f"VALUES ({_placeholders(dialect, len(IDEMPOTENCY_COLUMNS))})")
    return {"account": account, "order": order, "lines": lines, "outbox": outbox, "idempotency": idempotency}


class OrderMaker:
    """The rows of one order, priced like the service prices (half-up per line, totals of lines)."""

    def __init__(self, spec: dict, products: dict[str, dict], seed: int) -> None:
        self.rnd = random.Random(seed)
        self.customers = spec["customer_ids"]
        self.product_ids = [p for p in spec["product_ids"] if p in products]
        self.products = products
        self.employees = spec.get("employees") or ["emp-1"]
        self.fewest, self.most = spec.get("lines", [2, 3])

    def request(self) -> tuple[str, list[tuple[str, int]], str]:
        picked = self.rnd.sample(self.product_ids, self.rnd.randint(self.fewest, self.most))
        return (self.rnd.choice(self.customers), [(p, self.rnd.randint(1, 5)) for p in picked],
                self.rnd.choice(self.employees))

    def rows(self, customer_id: str, wanted: list[tuple[str, int]], employee: str, tier: str | None,
             percent: Decimal) -> dict[str, Any]:
        now = datetime.now(UTC)
        order_id = str(uuid.uuid4())
        lines, totals = [], dict.fromkeys(("gross", "discount", "net", "cost"), Decimal(0))
        for line_no, (product_id, quantity) in enumerate(wanted, start=1):
            product = self.products[product_id]
            gross = (product["unit_price"] * quantity).quantize(CENT)
            discount = (gross * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            cost = (product["unit_cost"] * quantity).quantize(CENT)
            amounts = {"gross": gross, "discount": discount, "net": gross - discount, "cost": cost}
            for name, value in amounts.items():
                totals[name] += value
            lines.append({"id": str(uuid.uuid4()), "order_id": order_id, "line_no": line_no,
                          "product_id": product_id, "sku": product["sku"], "name": product["name"],
                          "category": product["category"], "quantity": quantity,
                          "unit_price": product["unit_price"], "unit_cost": product["unit_cost"],
                          "discount_percent": percent, **amounts, "returned_quantity": 0,
                          "returned_net": Decimal("0.00")})
        zero = Decimal("0.00")
        order = {"id": order_id, "customer_id": customer_id, "sales_employee_id": employee, "channel": "store",
                 "currency": CURRENCY, "status": "placed", "loyalty_tier": tier, "discount_percent": percent,
                 **totals, "returned_gross": zero, "returned_discount": zero, "returned_net": zero,
                 "returned_cost": zero, "placed_by": ACTOR, "placed_at": now, "updated_at": now}
        public = {**order, "margin": totals["net"] - totals["cost"],
                  "lines": [{**line, "margin": line["net"] - line["cost"]} for line in lines]}
        envelope = {"event_id": str(uuid.uuid4()), "type": "orders.order.placed", "version": 1,
                    "occurred_at": now, "producer": "orders", "aggregate_id": order_id, "customer_id": customer_id,
                    "correlation_id": str(uuid.uuid4()), "causation_id": None, "payload": public}
        request = {"customer_id": customer_id, "lines": [{"product_id": p, "quantity": q} for p, q in wanted],
                   "channel": "store", "sales_employee_id": employee}
        return {
            "order": order, "lines": lines,
            "outbox": {"event_id": envelope["event_id"], "event_type": envelope["type"], "topic": "orders.events",
                       "key": customer_id, "envelope": json.dumps(envelope, default=str), "created_at": now},
            "idempotency": {"scope": f"orders.place:{ACTOR}", "key": str(uuid.uuid4()),
                            "fingerprint": hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest(),
                            "status_code": 201, "response": json.dumps(public, default=str), "created_at": now},
        }


def _account_values(customer_id: str, now: datetime) -> dict[str, Any]:
    return {"customer_id": customer_id, "currency": CURRENCY, "balance": Decimal("0.00"), "tier": None,
            "discount_percent": Decimal("0.00"), "created_at": now, "updated_at": now}


# ----- PostgreSQL -----------------------------------------------------------------------------------

async def pg_orders(args: argparse.Namespace, spec: dict, window: Window, watch: CpuWatch) -> str:
    import asyncpg

    statements = order_statements("postgresql", list(range(spec.get("lines", [2, 3])[0],
                                                           spec.get("lines", [2, 3])[1] + 1)))
    connections = [await asyncpg.connect(args.dsn) for _ in range(args.concurrency)]
    products = {r["id"]: dict(r) for r in await connections[0].fetch(
        "SELECT id, sku, name, category, unit_price, unit_cost FROM product")}
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def worker(n: int, conn: asyncpg.Connection) -> None:
        maker = OrderMaker(spec, products, seed=n * 7919 + int(time.time()))
        while window.take():
            customer_id, wanted, employee = maker.request()
            started = time.perf_counter()
            try:
                async with conn.transaction():
                    now = datetime.now(UTC)
                    account = await conn.fetchrow(statements["account"],
                                                  *_account_values(customer_id, now).values())
                    rows = maker.rows(customer_id, wanted, employee, account["tier"], account["discount_percent"])
                    await conn.execute(statements["order"], *rows["order"].values())
                    await conn.execute(statements["lines"][len(rows["lines"])],
                                       *[v for line in rows["lines"] for v in line.values()])
                    await conn.execute(statements["outbox"], *rows["outbox"].values())
                    await conn.execute(statements["idempotency"], *rows["idempotency"].values())
                ok = True
            except asyncpg.PostgresError as exc:
                ok, errors_key = False, type(exc).__name__
            done = time.perf_counter()
            if window.counts(done):
                if ok:
                    latencies.append(done - started)
                else:
                    errors[errors_key] += 1

    return await _run_async(connections, worker, window, watch, latencies, errors)


READ_QUERIES = {
    "get-customer": """
        SELECT c.*,
               ARRAY(SELECT t.tag FROM customer_tag t WHERE t.customer_id = c.id ORDER BY t.tag) AS tags,
               (SELECT coalesce(json_object_agg(s.channel, s.granted), '{}') FROM consent s
                 WHERE s.customer_id = c.id) AS consents
          FROM customer c WHERE c.id = $1""",
    "list-customers": """
        SELECT c.*,
               ARRAY(SELECT t.tag FROM customer_tag t WHERE t.customer_id = c.id ORDER BY t.tag) AS tags,
               (SELECT coalesce(json_object_agg(s.channel, s.granted), '{}') FROM consent s
                 WHERE s.customer_id = c.id) AS consents
          FROM customer c ORDER BY c.created_at DESC, c.id DESC LIMIT 51""",
    "list-orders": """
        SELECT o.*, (SELECT json_agg(l ORDER BY l.line_no) FROM order_line l WHERE l.order_id = o.id) AS lines
          FROM sales_order o ORDER BY o.placed_at DESC, o.id DESC LIMIT 51""",
}


async def pg_read(args: argparse.Namespace, spec: dict, window: Window, watch: CpuWatch) -> str:
    import asyncpg

    query = READ_QUERIES[args.query]
    ids = spec.get("ids") or []
    connections = [await asyncpg.connect(args.dsn) for _ in range(args.concurrency)]
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def worker(n: int, conn: asyncpg.Connection) -> None:
        rnd = random.Random(n)
        while window.take():
            params = [rnd.choice(ids)] if "$1" in query else []
            started = time.perf_counter()
            rows = await conn.fetch(query, *params)
            done = time.perf_counter()
            if window.counts(done):
                if rows:
                    latencies.append(done - started)
                else:
                    errors["no rows"] += 1

    return await _run_async(connections, worker, window, watch, latencies, errors)


async def _run_async(connections: list, worker: Any, window: Window, watch: CpuWatch, latencies: list[float],
                     errors: Counter[str]) -> str:
    window.open()
    tasks = [asyncio.create_task(worker(n, conn)) for n, conn in enumerate(connections)]
    first = time.perf_counter()
    if window.requests is None:
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        watch.start()
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        cpu = watch.stop()
        elapsed = window.end - window.start
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    else:
        watch.start()
        await asyncio.wait_for(asyncio.gather(*tasks), 600)
        cpu = watch.stop()
        elapsed = time.perf_counter() - first
    for conn in connections:
        await conn.close()
    return outcome(latencies, dict(errors), elapsed, cpu).to_json()


# ----- SQLite -----------------------------------------------------------------------------------------

def _sqlite_value(value: Any) -> Any:
    """As the service's column types store values on SQLite: decimal strings, naive UTC text."""
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def sqlite_orders(args: argparse.Namespace, spec: dict, window: Window, watch: CpuWatch) -> str:
    statements = order_statements("sqlite", list(range(spec.get("lines", [2, 3])[0],
                                                       spec.get("lines", [2, 3])[1] + 1)))
    first = sqlite_connect(args.path)
    products = {}
    for row in first.execute("SELECT id, sku, name, category, unit_price, unit_cost FROM product"):
        products[row[0]] = {"sku": row[1], "name": row[2], "category": row[3], "unit_price": Decimal(row[4]),
                            "unit_cost": Decimal(row[5])}
    first.close()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def take() -> bool:
        with lock:
            return window.take()

    def worker(n: int) -> None:
        conn = sqlite_connect(args.path)
        maker = OrderMaker(spec, products, seed=n * 7919 + int(time.time()))
        mine: list[float] = []
        failed: Counter[str] = Counter()
        while take():
            customer_id, wanted, employee = maker.request()
            started = time.perf_counter()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    now = datetime.now(UTC)
                    values = [_sqlite_value(v) for v in _account_values(customer_id, now).values()]
                    tier, percent = conn.execute(statements["account"], values).fetchone()
                    rows = maker.rows(customer_id, wanted, employee, tier, Decimal(percent))
                    conn.execute(statements["order"], [_sqlite_value(v) for v in rows["order"].values()])
                    conn.execute(statements["lines"][len(rows["lines"])],
                                 [_sqlite_value(v) for line in rows["lines"] for v in line.values()])
                    conn.execute(statements["outbox"], [_sqlite_value(v) for v in rows["outbox"].values()])
                    conn.execute(statements["idempotency"],
                                 [_sqlite_value(v) for v in rows["idempotency"].values()])
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                ok, error = True, ""
            except sqlite3.Error as exc:
                ok, error = False, type(exc).__name__
            done = time.perf_counter()
            if window.counts(done):
                if ok:
                    mine.append(done - started)
                else:
                    failed[error] += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.update(failed)

    window.open()
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(args.concurrency)]
    first_at = time.perf_counter()
    for thread in threads:
        thread.start()
    if window.requests is None:
        time.sleep(max(0.0, window.start - time.perf_counter()))
        watch.start()
        time.sleep(max(0.0, window.end - time.perf_counter()))
        cpu = watch.stop()
        elapsed = window.end - window.start
        for thread in threads:
            thread.join(120)
    else:
        watch.start()
        for thread in threads:
            thread.join(600)
        cpu = watch.stop()
        elapsed = time.perf_counter() - first_at
    return outcome(latencies, dict(errors), elapsed, cpu).to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["pg-orders", "sqlite-orders", "pg-read"])
    parser.add_argument("--dsn", help="PostgreSQL (asyncpg) URL, for pg-*")
    parser.add_argument("--path", help="SQLite file, for sqlite-orders")
    parser.add_argument("--query", choices=sorted(READ_QUERIES), help="for pg-read")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--postmaster", type=int, default=None)
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    window = Window(warmup=args.warmup, duration=None if args.requests else args.duration, requests=args.requests)
    watch = CpuWatch([], args.postmaster)
    if args.kind == "sqlite-orders":
        print(sqlite_orders(args, spec, window, watch))
        return
    import uvloop

    runner = pg_orders if args.kind == "pg-orders" else pg_read
    print(uvloop.run(runner(args, spec, window, watch)))


if __name__ == "__main__":
    main()
