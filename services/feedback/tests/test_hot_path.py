"""The hot path's round trips, counted (not timed): ``POST /cases`` with warm replicas is one
transaction of a bounded number of statements, and builds its answer without re-reading the case."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event

from services.feedback.app import create_app
from services.feedback.tests.conftest import MANAGER, SUPPORT, FakeOwners, case_body, open_case, settings_for
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client

pytestmark = pytest.mark.integration

# BEGIN, idempotency claim, customer replica (FOR SHARE), category, SLA policy, calendar, the case
# INSERT ... RETURNING, the timeline INSERT, the outbox INSERT, the idempotency answer, COMMIT.
MAX_STATEMENTS = 11


async def test_opening_a_case_is_one_transaction_of_few_statements(database_url: str, topics: str) -> None:
    # Relay, consumers and the breach detector off: nothing else in the process uses the engine.
    owners = FakeOwners()
    app = create_app(settings_for(database_url, topics, bus_enabled=False, breach_detector_enabled=False),
                     owner_directory=owners, staff_lookup=AnyEmployee())
    async with app_client(app) as client:
        await _count(client, owners)


async def _count(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    customer = owners.customer_()
    category = (await client.post("/categories", json={"name": "Hot path"}, headers=MANAGER)).json()
    await open_case(client, customer)  # the replica learns the customer
    engine = client._transport.app.state.runtime.db.engine.sync_engine  # type: ignore[attr-defined]
    statements: list[str] = []
    transactions: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    def on_begin(_conn: Any) -> None:
        transactions.append("begin")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        response = await client.post("/cases", json=case_body(customer, category_id=category["id"]),
                                     headers={**SUPPORT, "Idempotency-Key": "hot-path-1"})
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
    assert response.status_code == 201, response.text
    assert transactions == ["begin"]
    assert statements.count("SELECT") <= 5 and statements.count("INSERT") == 4, statements
    assert len(statements) + 2 <= MAX_STATEMENTS, statements  # + BEGIN and COMMIT
    assert "UPDATE" in statements  # the idempotency answer; no re-read of the case afterwards
