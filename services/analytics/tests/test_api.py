"""Every route's 4xx paths, role checks, cost-rate re-pricing, and no 5xx from fuzzed inputs."""

from __future__ import annotations

import base64
import json
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.analytics.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SERVICE,
    SUPPORT,
    applied,
    assert_problem,
    publish,
    unique,
)
from services.analytics.tests.scenario import scenario

pytestmark = pytest.mark.integration

READS = ["/profitability/customers", "/profitability/customers/x-1", "/profitability/segments",
         "/profitability/managers", "/cohorts", "/rfm", "/clv", "/trends", "/trends/detected", "/cost-rates",
         "/cases/summary", "/leaderboard"]


@pytest.fixture(scope="module")
async def customer(app: FastAPI, producer: AIOKafkaProducer) -> str:
    a = unique("ca-")
    events = scenario(a, unique("cb-"), unique("cd-"), unique())
    await publish(producer, events)
    await applied(app, events)
    return a


@pytest.mark.parametrize("path", READS)
async def test_reads_need_a_token_and_a_reading_role(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 401)
    assert_problem(await client.get(path, headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(await client.get(path, headers=SUPPORT), 403)
    for role in (ANALYST, MANAGER, SERVICE, ADMIN):
        response = await client.get(path, headers=role)
        assert response.status_code in (200, 404), (path, response.text)


@pytest.mark.parametrize(("path", "params"), [
    ("/profitability/customers", {"period_from": "2026-13"}),
    ("/profitability/customers", {"period_from": "2026-05", "period_to": "2026-04"}),
    ("/profitability/customers", {"sort": "name"}),
    ("/profitability/customers", {"order": "up"}),
    ("/profitability/customers", {"limit": "0"}),
    ("/profitability/customers", {"limit": "201"}),
    ("/profitability/customers", {"cursor": "%%%"}),
    ("/profitability/customers", {"cursor": base64.urlsafe_b64encode(b'{"s":"revenue","o":"desc","v":1,"id":"a"}')
                                  .decode()}),  # a cursor of another sort
    ("/profitability/customers", {"cursor": base64.urlsafe_b64encode(b'{"s":"net_contribution","o":"desc",'
                                                                     b'"v":"x","id":"a"}').decode()}),
    ("/profitability/segments", {"period_to": "26-01"}),
    ("/profitability/managers", {"period_from": "2026-01", "period_to": "2025-12"}),
    ("/cohorts", {"months": "0"}),
    ("/cohorts", {"months": "61"}),
    ("/rfm", {"group": "vip"}),
    ("/rfm", {"cursor": "bm90IGpzb24"}),
    ("/clv", {"cursor": base64.urlsafe_b64encode(b'{"id":"a","v":"high"}').decode()}),
    ("/trends", {"granularity": "day"}),
    ("/trends/detected", {"cursor": base64.urlsafe_b64encode(b'{"at":"yesterday","id":"a"}').decode()}),
    ("/cases/summary", {"period_from": "2026-1"}),
])
async def test_bad_queries_are_422(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> None:
    assert_problem(await client.get(path, params=params, headers=ANALYST), 422)


async def test_unknown_customer_and_assets_are_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/profitability/customers/never-heard-of", headers=ANALYST), 404)
    assert body["customer_id"] == "never-heard-of"
    assert_problem(await client.get("/profitability/customers/" + "x" * 300, headers=ANALYST), 404)
    for name in ("nothing.js", "..%2Fapp.py", ".hidden.js", "index.html"):
        assert (await client.get(f"/dashboard/assets/{name}")).status_code == 404
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "Pelanggan analytics" in page.text
    script = await client.get("/dashboard/assets/echarts.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("body", [
    {"rates": {"interaction.fax": "100"}},
    {"rates": {"interaction.phone": "1e3"}},
    {"rates": {"interaction.phone": "-5"}},
    {"rates": {"interaction.phone": 1000}},
    {"rates": {"interaction.phone": "10.001"}},
    {"rates": {}},
    {"rates": {"interaction.phone": "1000"}, "note": "extra"},
    {"rates": {"interaction.phone": "1000\u0000"}},
    [],
])
async def test_bad_cost_rates_are_422_and_change_nothing(client: httpx.AsyncClient, body: Any) -> None:
    before = (await client.get("/cost-rates", headers=ANALYST)).json()
    assert_problem(await client.put("/cost-rates", json=body, headers=ADMIN), 422)
    assert (await client.get("/cost-rates", headers=ANALYST)).json() == before


async def test_only_admin_sets_cost_rates(client: httpx.AsyncClient) -> None:
    for role in (ANALYST, MANAGER, SUPPORT, SERVICE):
        assert_problem(await client.put("/cost-rates", json={"rates": {"consultation": "1"}}, headers=role), 403)


async def test_a_rate_change_re_prices_every_figure(client: httpx.AsyncClient, customer: str) -> None:
    def measures(body: dict[str, Any]) -> tuple[Decimal, Decimal]:
        return Decimal(body["cost_to_serve"]), Decimal(body["net_contribution"])

    before = (await client.get(f"/profitability/customers/{customer}", headers=ANALYST)).json()
    segments = {s["key"]: s for s in (await client.get("/profitability/segments", headers=ANALYST)).json()["items"]}
    response = await client.put("/cost-rates", json={"rates": {"interaction.phone": "20000"}}, headers=ADMIN)
    assert response.status_code == 200, response.text
    rates = {r["activity"]: r for r in response.json()["rates"]}
    assert rates["interaction.phone"]["rate"] == "20000.00" and rates["interaction.phone"]["updated_by"] == "adm-1"
    after = (await client.get(f"/profitability/customers/{customer}", headers=ANALYST)).json()
    cost, net = measures(before)
    assert measures(after) == (cost + 10000, net - 10000)  # two phone calls at 5,000 more each
    march = next(m for m in after["months"] if m["month"] == "2026-03")
    assert Decimal(march["cost_to_serve"]) == Decimal("190000.00")
    segments_after = {s["key"]: s for s in (await client.get("/profitability/segments",
                                                              headers=ANALYST)).json()["items"]}
    assert Decimal(segments_after["wholesale"]["cost_to_serve"]) - Decimal(segments["wholesale"]["cost_to_serve"]) \
        >= 10000
    ranked = (await client.get("/profitability/customers", params={"sort": "cost_to_serve", "limit": 200},
                               headers=ANALYST)).json()["items"]
    assert any(r["customer_id"] == customer and Decimal(r["cost_to_serve"]) == cost + 10000 for r in ranked)
    restored = await client.put("/cost-rates", json={"rates": {"interaction.phone": "15000"}}, headers=ADMIN)
    assert restored.status_code == 200
    assert measures((await client.get(f"/profitability/customers/{customer}", headers=ANALYST)).json()) == (cost, net)


async def test_keyset_pages_cover_every_customer_once(client: httpx.AsyncClient, customer: str) -> None:
    for sort in ("net_contribution", "revenue", "aov", "returns_rate", "orders"):
        for order in ("asc", "desc"):
            seen: list[str] = []
            cursor = None
            while True:
                params = {"sort": sort, "order": order, "limit": 2, **({"cursor": cursor} if cursor else {})}
                body = (await client.get("/profitability/customers", params=params, headers=ANALYST)).json()
                seen += [i["customer_id"] for i in body["items"]]
                cursor = body["next_cursor"]
                if not cursor:
                    break
            everyone = (await client.get("/profitability/customers", params={"limit": 200, "sort": sort},
                                         headers=ANALYST)).json()["items"]
            assert sorted(seen) == sorted(i["customer_id"] for i in everyone), (sort, order)
            assert len(seen) == len(set(seen))
    period = (await client.get("/profitability/customers", params={"period_from": "2026-04", "period_to": "2026-04",
                                                                   "segment": "wholesale"}, headers=ANALYST)).json()
    row = next(i for i in period["items"] if i["customer_id"] == customer)
    assert Decimal(row["revenue"]) == Decimal("-95000.00")


ODD = ["", "x" * 5000, "😀", "\u202e", "%00", "-1", "1e9", "2026-00", "9999-12", "null", "'; drop table x; --",
       "0", "201", "asc", "desc", "month", "week"]


async def test_no_input_produces_a_5xx(client: httpx.AsyncClient) -> None:
    rng = random.Random(20261202)
    names = ["period_from", "period_to", "segment", "manager_id", "sort", "order", "limit", "cursor", "months",
             "group", "granularity", "category", "junk"]
    for _ in range(250):
        path = rng.choice(READS)
        if path.endswith("x-1"):
            path = "/profitability/customers/" + rng.choice([*ODD, "ca-1", "a b", ".."]).replace("/", "_")
        params = []
        for name in rng.sample(names, k=rng.randint(0, 4)):
            value = rng.choice(ODD) if name != "cursor" else rng.choice([
                base64.urlsafe_b64encode(json.dumps(rng.choice([
                    {"s": "net_contribution", "o": "desc", "v": rng.choice([1, 1.5, None, "x", 2**70]), "id": 3},
                    {"s": "aov", "o": "asc", "v": 10**30, "id": "a"}, {"id": rng.choice(ODD)},
                    {"at": rng.choice(ODD), "id": "a"}, [1, 2]])).encode()).decode(), rng.choice(ODD)])
            params.append((name, str(value)))
        response = await client.get(path, params=params, headers=ANALYST)
        assert response.status_code < 500, (path, params, response.text)
    bodies: list[Any] = [None, [], {}, {"rates": None}, {"rates": []}, {"rates": {"consultation": None}},
                         {"rates": {"consultation": "9" * 40}}, {"rates": {"consultation": "1.5"}, "x": 1},
                         {"rates": {rng.choice(ODD): "1"}}, "rates", 12]
    for body in bodies:
        response = await client.put("/cost-rates", json=body, headers=ADMIN)
        assert response.status_code < 500, (body, response.text)
    put = await client.put("/cost-rates", content=b"{not json", headers={**ADMIN, "content-type": "application/json"})
    assert put.status_code == 422
