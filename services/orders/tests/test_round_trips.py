"""How many statements one POST /orders sends to PostgreSQL: counted, so deterministic (no timing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from services.orders.app import create_app
from services.orders.tests.conftest import (
    MANAGER,
    FakeDirectory,
    create_product,
    order_body,
    place,
    put_program,
    settings_for,
)
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

pytestmark = pytest.mark.integration


@contextmanager
def statements_sent(engine: Any) -> Iterator[list[str]]:
    """The statements the request's connection sends while the block runs, BEGIN and COMMIT
    included (the relay shares the engine: its connections are left out)."""
    sent: list[str] = []
    seen: list[tuple[Any, str]] = []

    def on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((conn.connection.dbapi_connection, " ".join(statement.split())))

    def on_begin(conn: Any) -> None:
        seen.append((conn.connection.dbapi_connection, "BEGIN"))

    def on_commit(conn: Any) -> None:
        seen.append((conn.connection.dbapi_connection, "COMMIT"))

    def on_rollback(conn: Any) -> None:
        seen.append((conn.connection.dbapi_connection, "ROLLBACK"))

    listeners = [("before_cursor_execute", on_execute), ("begin", on_begin), ("commit", on_commit),
                 ("rollback", on_rollback)]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield sent
        request = next((c for c, s in seen if "idempotency_key" in s), None)
        sent.extend(s for c, s in seen if c is request)
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


@pytest.fixture(scope="module")
async def served(module_database_url: str, topics: str,
                 directory: FakeDirectory) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(settings_for(module_database_url, topics), customer_directory=directory,
                     staff_lookup=AnyEmployee())
    async with app_client(app) as http:
        yield http, app.state.runtime.db


async def test_placing_an_order_is_one_transaction_of_few_statements(
        served: tuple[httpx.AsyncClient, Any], directory: FakeDirectory) -> None:
    client, db = served
    await put_program(client)
    customer = directory.add()
    paper, pen, ink = [await create_product(client) for _ in range(3)]
    await place(client, customer, (paper, 1))  # the replica and the loyalty account exist from here on
    for _ in range(5):  # a longer ledger must not mean more work for the next order
        placed = await place(client, customer, (paper, 1))
        assert (await client.post(f"/orders/{placed['id']}/pay", json={}, headers=MANAGER)).status_code == 200

    with statements_sent(db.engine) as sent:
        response = await client.post("/orders", json=order_body(customer, (paper, 2), (pen, 1), (ink, 3)),
                                     headers={**MANAGER, "Idempotency-Key": "round-trips-1"})
    assert response.status_code == 201, response.text
    # BEGIN; the sales employee in the staff replica; the replica share-locked; the products, taking
    # the program lock; the program; the account locked; the order, its three lines, the outbox row
    # and the answer stored (the key claimed) in one statement; COMMIT. No lookup first, no pool
    # pre-ping, no second transaction, no ledger read.
    assert len(sent) == 8, "\n".join(sent)
    assert sum("staff_member" in s for s in sent) == 1
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT" and sent.count("BEGIN") == 1
    assert not any("loyalty_entry" in s for s in sent), sent
    assert sum("pg_advisory_xact_lock_shared" in s for s in sent) == 1
    assert "pg_advisory_xact_lock_shared" in next(s for s in sent if s.startswith("SELECT product."))
    [write] = [s for s in sent if "INSERT" in s]
    assert all(f"INSERT INTO {table} " in write for table in ("sales_order", "order_line", "outbox", "idempotency_key"))
    assert not any(s.startswith("UPDATE") for s in sent)

    with statements_sent(db.engine) as sent:
        replay = await client.post("/orders", json=order_body(customer, (paper, 2), (pen, 1), (ink, 3)),
                                   headers={**MANAGER, "Idempotency-Key": "round-trips-1"})
    assert replay.status_code == 201 and replay.json() == response.json()
    # A retry redoes the work, finds the key taken and rolls back; the stored answer is then read in
    # a transaction of its own (on whichever connection: the relay may take this one meanwhile).
    assert len(sent) >= 8 and sent[6].startswith("WITH") and sent[7] == "ROLLBACK", sent
