"""``GET /cases/stats`` on PostgreSQL (percentile_cont) and on SQLite (the ordered-read fallback):
the same cases give the same figures. Durations are set in the database after the cases were
handled (1 to 10 hours), so the expected percentiles are exact: median 5.5 h, p90 9.1 h."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from services.feedback.app import create_app
from services.feedback.models import Case, CaseResolution
from services.feedback.tests.conftest import (
    ANALYST,
    FakeOwners,
    assert_problem,
    command,
    open_case,
    reply,
    resolve,
    settings_for,
)
from services.feedback.working_time import HOUR_US
from shared.staff.directory import AnyEmployee
from shared.testing.apps import app_client


async def figures_of(client: httpx.AsyncClient, owners: FakeOwners) -> dict:
    db = client._transport.app.state.runtime.db  # type: ignore[attr-defined]
    customer = owners.customer_()
    product = owners.product_()
    ids = []
    for n in range(1, 11):
        kind = "complaint" if n <= 6 else "suggestion"
        case = await open_case(client, customer, kind=kind, channel="email" if n % 2 else "phone",
                               product_id=product if n <= 3 else None, priority="normal")
        ids.append(case["id"])
        await reply(client, case["id"])
        if n <= 8:
            await resolve(client, case["id"], compensation="refund" if n <= 2 else "none",
                          compensation_amount="1000.25" if n <= 2 else None)
            if n <= 4:
                await command(client, case["id"], "rating", {"rating": n + 1})
    async with db.transaction() as session:
        for n, case_id in enumerate(ids, 1):
            await session.execute(update(Case).where(Case.id == case_id).values(fr_elapsed_us=n * HOUR_US,
                                                                                sla_breached=n in (1, 7)))
            await session.execute(update(CaseResolution).where(CaseResolution.case_id == case_id)
                                  .values(resolution_us=n * HOUR_US))
    response = await client.get("/cases/stats", headers=ANALYST)
    assert response.status_code == 200, response.text
    return response.json()


def check(figures: dict) -> None:
    assert figures["cases"] == 10
    assert figures["by_kind"] == {"complaint": 6, "suggestion": 4}
    assert figures["by_channel"] == {"email": 5, "phone": 5}
    assert sorted(figures["by_product"].values()) == [3, 7] and figures["by_product"]["none"] == 7
    assert figures["by_status"] == {"resolved": 8, "in_progress": 2}
    assert figures["first_response"] == {"count": 10, "median_hours": 5.5, "p90_hours": 9.1}
    # Eight resolved, 1..8 hours: median 4.5, p90 at position 6.3 -> 7 + 0.3 = 7.3.
    assert figures["resolution"] == {"count": 8, "median_hours": 4.5, "p90_hours": 7.3}
    rates = {(r["kind"], r["priority"]): r for r in figures["breach_rates"]}
    assert rates[("complaint", "normal")]["breached"] == 1 and rates[("complaint", "normal")]["rate"] == 0.1667
    assert rates[("suggestion", "normal")]["breached"] == 1 and rates[("suggestion", "normal")]["cases"] == 4
    assert figures["csat_average"] == 3.5 and figures["csat_count"] == 4
    assert figures["compensation"] == [{"compensation": "refund", "currency": "IDR", "count": 2,
                                        "amount": "2000.50"}]


@pytest.mark.integration
async def test_stats_on_postgresql(database_url: str, topics: str) -> None:
    owners = FakeOwners()
    async with app_client(create_app(settings_for(database_url, topics, bus_enabled=False),
                                     owner_directory=owners, staff_lookup=AnyEmployee())) as client:
        figures = await figures_of(client, owners)
        assert figures["percentile_method"] == "percentile_cont"
        check(figures)
        assert_problem(await client.get("/cases/stats", params={"from": "2026-01-02T00:00:00Z",
                                                                "to": "2026-01-01T00:00:00Z"}, headers=ANALYST), 422)
        assert_problem(await client.get("/cases/stats", params={"from": "1"}, headers=ANALYST), 422)
        empty = (await client.get("/cases/stats", params={"from": "2020-01-01T00:00:00+07:00",
                                                          "to": "2020-02-01T00:00:00+07:00"}, headers=ANALYST)).json()
        assert empty["cases"] == 0 and empty["first_response"]["median_hours"] is None


async def test_stats_on_sqlite_give_the_same_figures(tmp_path: Path) -> None:
    owners = FakeOwners()
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}", "127.0.0.1:1", bus_enabled=False)
    async with app_client(create_app(settings, owner_directory=owners, staff_lookup=AnyEmployee())) as client:
        figures = await figures_of(client, owners)
        assert figures["percentile_method"].startswith("ordered read")
        check(figures)
