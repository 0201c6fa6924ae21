"""`pelanggan seed` against the five running services: a small company arrives whole, and only once."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from rich.console import Console

from pelanggan.seed.client import SERVICES, Services
from pelanggan.seed.loader import AlreadySeeded, Loader
from pelanggan.seed.plan import build_plan
from pelanggan.seed.runner import seed_company
from shared.config import LOCAL_JWT_SECRET
from shared.http.auth import issue_token
from tests.e2e.conftest import RunningSystem

pytestmark = pytest.mark.integration

TOKEN = issue_token(secret=LOCAL_JWT_SECRET, subject="seed-test", roles=["admin"])
SIZE = {"seed": 42, "customers": 30, "months": 3}


class Silent:
    def phase(self, name: str, total: int) -> None: ...
    def advance(self, name: str, amount: int = 1) -> None: ...


async def _counts(running: RunningSystem) -> dict[str, int]:
    """What the services hold, asked through their APIs."""
    urls = {name: running.url(name) for name in SERVICES}
    async with Services(urls=urls, token=TOKEN, seed=0) as services:
        counts = {
            "employees": len(await services.all_pages("incentives", "/employees")),
            "products": len(await services.all_pages("orders", "/products")),
            "customers": len(await services.all_pages("customers", "/customers")),
            "orders": len(await services.all_pages("orders", "/orders")),
            "cases": len(await services.all_pages("feedback", "/cases")),
            "gifts": len(await services.all_pages("incentives", "/gifts")),
            "awards": len(await services.all_pages("incentives", "/awards")),
        }
        paid = [o for o in await services.all_pages("orders", "/orders") if o["status"] in ("paid", "fulfilled")]
        counts["paid orders"] = len(paid)
        counts["cancelled orders"] = sum(o["status"] == "cancelled" for o in await services.all_pages("orders",
                                                                                                     "/orders"))
    return counts


async def test_a_small_company_is_seeded_through_the_apis_and_a_second_run_sends_nothing(
        running_system: RunningSystem) -> None:
    urls = {name: running_system.url(name) for name in SERVICES}
    until = datetime.now(UTC).date()
    plan = build_plan(seed=42, customer_count=30, months=3, until=until)
    quiet = Console(file=io.StringIO())

    # A run that stops half-way (as after a crash): staff, catalogue, customers and half the orders.
    async with Services(urls=urls, token=TOKEN, seed=42) as services:
        await services.check_reachable()
        partial = Loader(services, plan, Silent(), concurrency=8)
        for phase in (partial.staff, partial.catalogue, partial.weights, partial.customers):
            await phase()
        for order in plan.orders[: len(plan.orders) // 2]:
            await partial._order(order)
    assert (await _counts(running_system))["orders"] == len(plan.orders) // 2

    # The next run resumes: nothing is doubled.
    outcome = await seed_company(urls=urls, token=TOKEN, until=until, console=quiet, concurrency=8, **SIZE)

    held = await _counts(running_system)
    assert held["employees"] == 25
    assert held["products"] == len(plan.products)
    assert held["customers"] == 30
    assert held["orders"] == len(plan.orders) > 0
    assert held["paid orders"] == sum("pay" in o for o in plan.orders)
    assert held["cancelled orders"] == sum("cancel" in o for o in plan.orders)
    assert held["cases"] == len(plan.cases)
    assert held["gifts"] == len(plan.gifts)
    assert outcome.counts["employees (already there)"] == 25
    assert outcome.counts["closed periods"] == len(plan.closed_periods) == 2
    assert outcome.requests > 0 and outcome.elapsed > 0
    async with httpx.AsyncClient(base_url=urls["orders"], headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        placed = sorted(o["placed_at"][:10] for o in (await http.get("/orders", params={"limit": 200})).json()["items"])
        assert plan.history_start <= placed[0] and placed[-1] < plan.history_end  # the history, not "now"
    async with httpx.AsyncClient(base_url=urls["incentives"], headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for period in plan.closed_periods:
            assert (await http.get(f"/plans/{period}")).json()["status"] == "closed"
        points = [(await http.get(f"/periods/{p}/contributions")).json()["company_points"] for p in plan.closed_periods]
        assert any(Decimal(p) > 0 for p in points)  # sales counted in their own (historical) months
    async with httpx.AsyncClient(base_url=urls["customers"], headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        first = plan.customers[0]
        found = (await http.get("/customers", params={"q": first["body"]["emails"][0]})).json()["items"]
        assert [c["segment"] for c in found] == [first["segment"]]
        assert found[0]["created_at"][:10] == first["registered_on"]  # imported customers keep their date
        assert found[0]["manager_id"] == first["manager_id"]

    with pytest.raises(AlreadySeeded, match="already loaded"):
        await seed_company(urls=urls, token=TOKEN, until=until, console=quiet, **SIZE)
    assert await _counts(running_system) == held
