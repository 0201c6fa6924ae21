"""The embedded default: the same service on a SQLite file, money exact and writers serialised.

No broker or database server is needed (the bus is off), so this runs everywhere.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from services.orders.app import create_app
from services.orders.config import OrdersSettings
from services.orders.tests.conftest import (
    ANALYST,
    MANAGER,
    FakeDirectory,
    create_product,
    ledger_of,
    loyalty_of,
    pay,
    place,
    put_program,
)
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

D = Decimal


async def test_orders_on_sqlite_keep_money_exact_under_concurrent_writers(tmp_path: Path) -> None:
    directory = FakeDirectory()
    customer = directory.add()
    settings = OrdersSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}", bus_enabled=False)
    app = create_app(settings, customer_directory=directory, staff_lookup=AnyEmployee())
    assert app.state.runtime.db.is_sqlite
    async with app_client(app) as client:
        assert await app.state.runtime.db.journal_mode() == "wal"
        await put_program(client)
        huge = await create_product(client, price="12345678901234567.89", cost="0.01")
        fetched = (await client.get(f"/products/{huge['id']}", headers=ANALYST)).json()
        assert fetched["unit_price"] == "12345678901234567.89"  # a float would have lost the cents
        paper = await create_product(client, price="33.33", cost="20.10")

        async def buy() -> dict:
            return await pay(client, (await place(client, customer, (paper, 3)))["id"])

        orders = await asyncio.gather(*(buy() for _ in range(20)))
        refused = await client.post(f"/orders/{orders[0]['id']}/returns", headers=ANALYST)
        assert refused.status_code == 403  # analysts read only
        back = await asyncio.gather(*(client.post(f"/orders/{o['id']}/returns", headers=MANAGER,
                                                  json={"lines": [{"product_id": paper["id"], "quantity": 1}]})
                                      for o in orders[:10]))
        assert [r.status_code for r in back] == [201] * 10

        expected = sum((D(o["net"]) for o in orders), D("0")) - sum((D(r.json()["net"]) for r in back), D("0"))
        status = await loyalty_of(client, customer)
        assert D(status["lifetime_spend"]) == expected
        assert sum((D(e["amount"]) for e in await ledger_of(client, customer)), D("0")) == expected
        assert status["tier"]["name"] == ("silver" if expected >= 1000 else "base")

