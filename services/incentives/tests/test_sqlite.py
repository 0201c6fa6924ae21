"""The embedded default: the same service on a SQLite file (bus off), figures exact.

The handlers' use cases are called directly with the events' contracts, so the upserts, the
insert-or-nothing of counted lines and the close run on SQLite's dialect too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services.incentives.app import create_app
from services.incentives.config import IncentivesSettings
from services.incentives.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    cancelled_event,
    contributions,
    hire,
    order_line,
    paid_event,
    returned_event,
    row_of,
)
from services.incentives.tests.test_api import POLICY
from services.incentives.use_cases import contributions as counting
from shared.testing.apps import app_client

JAKARTA = ZoneInfo("Asia/Jakarta")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA)


async def test_incentives_on_sqlite(tmp_path: Path) -> None:
    settings = IncentivesSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'incentives.db'}",
                                  bus_enabled=False)
    app = create_app(settings)
    db = app.state.runtime.db
    async with app_client(app) as client:
        seller = (await hire(client, hired_on="2000-01-01"))["id"]
        plan = {"company_target_points": "100", "employees": [{"employee_id": seller, "target_points": "50"}]}
        assert (await client.put("/plans/2020-03", json=plan, headers=MANAGER)).status_code == 200
        assert (await client.put("/bonus-policy", json={**POLICY, "effective_from": "2020-01"},
                                 headers=ADMIN)).status_code == 200
        lines = [order_line(1, "p", "12345678901234.56"), order_line(2, "q", "40.00")]
        paid = paid_event("o-1", "c-1", seller, lines, at("2020-03-05T10:00"))
        for _ in range(2):  # counted once
            async with db.transaction() as session:
                await counting.record_paid(session, event=paid, zone=settings.zone, currency="IDR")
        async with db.transaction() as session:
            await counting.record_cancelled(session, zone=settings.zone, currency="IDR", event=cancelled_event(
                "o-2", "c-1", seller, [order_line(1, "p", "10.00")], at("2020-03-07T10:00"),
                placed_at=at("2020-03-06T10:00"), reversed_net="10.00"))
            await counting.record_returned(session, zone=settings.zone, currency="IDR", event=returned_event(
                "o-1", "c-1", seller, "r-1", [(2, "q", "40.00")], at("2020-04-02T10:00"), at("2020-03-05T10:00")))
        row = row_of(await contributions(client, "2020-03"), seller)
        assert row is not None and (row["net_sales"], row["lines"]) == ("12345678901274.56", 2)
        april = row_of(await contributions(client, "2020-04"), seller)
        assert april is not None and april["net_sales"] == "-40.00"

        closed = await client.post("/periods/2020-03/close", headers=MANAGER)
        assert closed.status_code == 200, closed.text
        assert closed.json()["best_employee_id"] == seller
        assert [a["amount"] for a in closed.json()["awards"] if a["kind"] == "cash"] == ["80000.00"]  # the cap
        # The cancellation's payment arrives after the close: both count in April, converging to zero.
        async with db.transaction() as session:
            await counting.record_paid(session, zone=settings.zone, currency="IDR", event=paid_event(
                "o-2", "c-1", seller, [order_line(1, "p", "10.00")], at("2020-03-06T12:00")))
        april = row_of(await contributions(client, "2020-04"), seller)
        assert april is not None and (april["net_sales"], april["adjustment_points"], april["lines"]) == (
            "-40.00", "0.00", 3)
        assert (await client.get("/periods/2020-03/contributions", headers=ANALYST)).json()["status"] == "closed"
