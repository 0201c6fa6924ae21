"""Demo data for the benchmarks, written through the services' own HTTP APIs (never into their tables).

Customers are registered with the customers service; the orders service hears of them the way it
does in production: ``customers.customer.registered`` on Kafka, applied to its replica by its
consumer (``wait_for_rows`` waits until the replica has them all, so no order in a measured
window needs the HTTP fallback). Products, the loyalty program and a purchase history (placed and
paid orders, so ledgers and tiers are not empty) go through the orders API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from shared.config import LOCAL_JWT_SECRET
from shared.http.auth import issue_token

log = logging.getLogger("bench")

SEGMENTS = ["wholesale", "retail", "printing", "corporate", "school", "individual"]
CATEGORIES = ["paper", "writing", "office-equipment", "printing-consumables", "packaging", "school-supplies"]
TAGS = ["vip", "b2b", "new", "seasonal", "export", "reseller", "credit", "newsletter"]
EMPLOYEES = [f"emp-{n:02d}" for n in range(1, 26)]
LOYALTY_PROGRAM = {"tiers": [{"name": "base", "threshold": "0", "discount_percent": "0"},
                             {"name": "silver", "threshold": "5000000", "discount_percent": "2.5"},
                             {"name": "gold", "threshold": "20000000", "discount_percent": "5"}]}


def token(role: str, subject: str = "bench") -> str:
    """A token the services accept in local mode (signed with the local development secret)."""
    return issue_token(secret=LOCAL_JWT_SECRET, subject=subject, roles=[role])


def headers(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role)}"}


async def _gather_bounded(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def _created(response: httpx.Response, what: str) -> dict:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"seeding {what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


async def register_customers(url: str, count: int, *, seed: int = 1, concurrency: int = 8) -> list[str]:
    """``count`` customers (companies and people, 0-3 tags, half with e-mail consent); returns their ids."""
    rnd = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    auth = headers("manager")

    async with httpx.AsyncClient(base_url=url, timeout=60, headers=auth) as client:
        async def register(n: int) -> str:
            company = rnd.random() < 0.6
            body = {"kind": "company" if company else "person",
                    "name": f"{'PT Bench' if company else 'Bench Person'} {run} {n}",
                    "emails": [f"bench-{run}-{n}@example.com"], "segment": rnd.choice(SEGMENTS),
                    "tags": rnd.sample(TAGS, rnd.randint(0, 3)), "first_contact_channel": "email"}
            created = _created(await client.post("/customers", json=body), "a customer")
            if n % 2 == 0:
                consents = {"consents": [{"channel": "email", "granted": True, "source": "bench seed"}],
                            "preferred_channel": "email"}
                _created(await client.put(f"/customers/{created['id']}/consents", json=consents), "consents")
            return created["id"]

        return await _gather_bounded([lambda n=n: register(n) for n in range(count)], concurrency)


async def register_employees(url: str) -> list[str]:
    """The sales staff orders name (:data:`EMPLOYEES`), in the incentives staff directory; an id
    already there (a resumed run) is kept. The services learn of them from its events."""
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers("manager")) as client:
        async def hire(employee_id: str) -> str:
            response = await client.post("/employees", json={"id": employee_id, "name": f"Bench {employee_id}",
                                                             "role": "sales", "hired_on": "2020-01-01"})
            if response.status_code != 409:
                _created(response, "an employee")
            return employee_id

        return await _gather_bounded([lambda e=e: hire(e) for e in EMPLOYEES], 4)


async def create_products(url: str, count: int, *, seed: int = 2) -> list[str]:
    rnd = random.Random(seed)
    run = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers("manager")) as client:
        async def create(n: int) -> str:
            price = rnd.randrange(5_000, 500_000, 500)
            body = {"sku": f"B{run}-{n:04d}", "name": f"Bench product {n}", "category": rnd.choice(CATEGORIES),
                    "unit_price": str(price), "unit_cost": str(int(price * rnd.uniform(0.5, 0.85)))}
            return _created(await client.post("/products", json=body), "a product")["id"]

        return await _gather_bounded([lambda n=n: create(n) for n in range(count)], 4)


async def set_loyalty_program(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers("admin")) as client:
        _created(await client.put("/loyalty/program", json=LOYALTY_PROGRAM), "the loyalty program")


async def purchase_history(url: str, customers: list[str], products: list[str], *, orders_per_customer: int,
                           seed: int = 3, concurrency: int = 8) -> int:
    """Placed and paid orders for ``customers`` (their loyalty ledgers and tiers); returns how many."""
    rnd = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers("manager")) as client:
        async def buy(customer_id: str) -> None:
            for _ in range(orders_per_customer):
                lines = [{"product_id": p, "quantity": rnd.randint(1, 20)} for p in rnd.sample(products, 3)]
                order = _created(await client.post("/orders", json={
                    "customer_id": customer_id, "lines": lines, "channel": "store",
                    "sales_employee_id": rnd.choice(EMPLOYEES)}), "an order")
                _created(await client.post(f"/orders/{order['id']}/pay", json={"method": "bank_transfer"}), "a payment")

        await _gather_bounded([lambda c=c: buy(c) for c in customers], concurrency)
    return len(customers) * orders_per_customer


async def place_orders(url: str, customers: list[str], products: list[str], count: int, *, seed: int = 4,
                       concurrency: int = 8) -> int:
    rnd = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers("manager")) as client:
        async def place(_n: int) -> None:
            lines = [{"product_id": p, "quantity": rnd.randint(1, 5)} for p in rnd.sample(products, rnd.randint(2, 3))]
            _created(await client.post("/orders", json={"customer_id": rnd.choice(customers), "lines": lines,
                                                        "channel": "store",
                                                        "sales_employee_id": rnd.choice(EMPLOYEES)}), "an order")

        await _gather_bounded([lambda n=n: place(n) for n in range(count)], concurrency)
    return count


async def count_rows(database: str, sql: str) -> int:
    """``sql`` (a count) on a PostgreSQL URL or a SQLite file path."""
    if database.startswith("postgresql"):
        conn = await asyncpg.connect(database)
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    def on_sqlite() -> int:
        conn = sqlite3.connect(database, timeout=30)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()

    return await asyncio.to_thread(on_sqlite)


async def wait_for_rows(database: str, sql: str, expected: int, *, timeout: float = 300, what: str = "rows") -> None:
    started = time.monotonic()
    while True:
        found = await count_rows(database, sql)
        if found >= expected:
            log.info("%s: %d of %d after %.1f s", what, found, expected, time.monotonic() - started)
            return
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what}: only {found} of {expected} after {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def outbox_drained(database: str, *, timeout: float = 120) -> float:
    """Wait until the service's relay has published every outbox row; returns the seconds waited."""
    started = time.monotonic()
    while await count_rows(database, "SELECT count(*) FROM outbox WHERE published_at IS NULL"):
        if time.monotonic() - started > timeout:
            log.warning("outbox of %s not drained after %.0f s", database, timeout)
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - started


async def wait_for_ids(database: str, table: str, column: str, ids: list[str], *, timeout: float = 300) -> None:
    """Wait until ``table`` has a row for every id (e.g. the orders replica has heard of our customers)."""
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    await wait_for_rows(database, f"SELECT count(*) FROM {table} WHERE {column} IN ({quoted})", len(ids),
                        timeout=timeout, what=f"{table} rows")
