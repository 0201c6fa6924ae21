"""The detection job on generated data: a planted demand shift is found and published once, pure
seasonality is not, lapsed frequent buyers are published at risk once, and two replicas publish nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.analytics.app import create_app
from services.analytics.jobs import DetectionJob
from services.analytics.tests import builders as b
from services.analytics.tests.conftest import ANALYST, applied, publish, settings_for, unique
from shared.testing.events import EventLog

pytestmark = pytest.mark.integration

MONTHS = [(2023 + (m // 12), m % 12 + 1) for m in range(11, 11 + 36)]  # Dec 2023 .. Nov 2026: 36 full months


def mid_month(year: int, month: int) -> datetime:
    return datetime(year, month, 14, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
async def world(module_database_url: str, topics: str, producer: AIOKafkaProducer) -> AsyncIterator[dict]:
    tag = unique()
    settings = settings_for(module_database_url, topics)
    app = create_app(settings)
    rng = np.random.default_rng(20261202)
    async with app.router.lifespan_context(app):
        events = []
        buyers = {s: unique(f"{s}-") for s in ("schools", "offices")}
        for segment, customer in buyers.items():
            events.append(b.registered(customer, segment=segment, manager_id=f"mgr-{segment}", at=mid_month(2023, 1)))
        planted = ("schools", "packaging")
        for i, (year, month) in enumerate(MONTHS):
            season = 1 + 0.35 * np.sin(2 * np.pi * month / 12) + 0.4 * (month == 7)  # back to school in July
            lines = []
            for segment, customer in buyers.items():
                for n, category in enumerate(("paper", "packaging", "school supplies")):
                    quantity = int(rng.poisson(80 * season * rng.lognormal(0, 0.1)))
                    if (segment, category) == planted and i >= 24:
                        quantity = int(quantity * 1.6)
                    lines.append((customer, b.line(n + 1, product_id=f"{category}-{tag}", category=category,
                                                   quantity=max(quantity, 1), price="10000", cost="6000",
                                                   discount_percent="0")))
            for customer in buyers.values():
                mine = [x for c, x in lines if c == customer]
                events.append(b.paid(unique("o-"), customer, mine, at=mid_month(year, month)))
        # frequent buyers who stopped in 2024, and steady small buyers who still buy
        lapsed = [unique("lapsed-") for _ in range(6)]
        steady = [unique("steady-") for _ in range(8)]
        for customer in lapsed + steady:
            events.append(b.registered(customer, segment="retail", manager_id="mgr-retail", at=mid_month(2023, 1)))
        one = [b.line(1, product_id=f"paper-{tag}", category="paper", quantity=3, price="10000", cost="6000",
                      discount_percent="0")]
        for customer in lapsed:
            events += [b.paid(unique("o-"), customer, one * 1, at=mid_month(y, m)) for y, m in MONTHS[:10]]
        for k, customer in enumerate(steady):
            events += [b.paid(unique("o-"), customer, one, at=mid_month(y, m)) for y, m in MONTHS[-6 - k % 3:]]
        await publish(producer, events)
        await applied(app, events, timeout=120)
        yield {"app": app, "planted": planted, "lapsed": lapsed, "steady": steady, "settings": settings}


@pytest.fixture(scope="module")
async def client(world: dict) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world["app"]), base_url="http://t") as http:
        yield http


def clock() -> datetime:
    return datetime(2026, 12, 2, 5, tzinfo=UTC)


async def test_the_planted_shift_is_found_and_published_once(world: dict, client: httpx.AsyncClient,
                                                             analytics_log: EventLog) -> None:
    app: FastAPI = world["app"]
    job = DetectionJob(app.state.runtime.db, world["settings"], clock=clock)
    assert await job.tick(force=True)
    segment, category = world["planted"]
    found = await analytics_log.wait_type("analytics.trend.detected", segment=segment, category=category,
                                          granularity="month")
    assert {f.payload["direction"] for f in found} == {"emerging"}
    assert all(f.key == f"{segment}:{category}" and f.payload["adjusted_p_value"] < 0.05 for f in found)
    await analytics_log.settle(2.0)
    monthly = [r for r in analytics_log.of_type("analytics.trend.detected", granularity="month")
               if r.payload["segment"] in ("schools", "offices")]
    # the other series are seasonality alone: none of them is flagged
    assert {(r.payload["segment"], r.payload["category"]) for r in monthly} == {world["planted"]}

    await analytics_log.settle(2.0)
    count = len(analytics_log.of_type("analytics.trend.detected"))
    assert await job.tick(force=True)  # a recomputation publishes nothing new
    await analytics_log.settle(2.0)
    assert len(analytics_log.of_type("analytics.trend.detected")) == count

    detected = (await client.get("/trends/detected", headers=ANALYST)).json()["items"]
    assert any(d["segment"] == segment and d["category"] == category for d in detected)
    trends = (await client.get("/trends", params={"granularity": "month"}, headers=ANALYST)).json()
    assert trends["periods"][0] == "2023-12" and len(trends["periods"]) >= 36
    series = next(s for s in trends["series"] if (s["segment"], s["category"]) == world["planted"])
    assert any(t["direction"] == "emerging" for t in series["tests"]["quantity"])
    weekly = (await client.get("/trends", params={"granularity": "week"}, headers=ANALYST)).json()
    assert len(weekly["periods"]) > 150


async def test_lapsed_frequent_buyers_are_published_at_risk_once(world: dict, client: httpx.AsyncClient,
                                                                 analytics_log: EventLog) -> None:
    app: FastAPI = world["app"]
    job = DetectionJob(app.state.runtime.db, world["settings"], clock=clock)
    await job.tick(force=True)
    for customer in world["lapsed"]:
        (event,) = await analytics_log.wait_type("analytics.customer.at_risk", customer_id=customer)
        assert event.payload["manager_id"] == "mgr-retail" and event.payload["segment"] == "retail"
        assert event.payload["reason"] in ("rfm_at_risk", "low_p_alive") and event.key == customer
    assert not any(analytics_log.of_type("analytics.customer.at_risk", customer_id=c) for c in world["steady"])
    rfm = (await client.get("/rfm", headers=ANALYST)).json()
    assert {g["group"] for g in rfm["groups"]} >= {"at_risk"}
    clv = (await client.get("/clv", headers=ANALYST)).json()
    assert set(clv["model"]) >= {"r", "alpha", "a", "b"} and clv["items"]
    lapsed = (await client.get(f"/profitability/customers/{world['lapsed'][0]}", headers=ANALYST)).json()
    assert lapsed["score"]["p_alive"] is not None and lapsed["score"]["rfm_group"] in ("at_risk", "hibernating", "lost")


async def test_two_replicas_publish_nothing_twice(world: dict, analytics_log: EventLog) -> None:
    app: FastAPI = world["app"]
    first = DetectionJob(app.state.runtime.db, world["settings"], clock=clock)
    second = DetectionJob(app.state.runtime.db, world["settings"], clock=clock)
    before = len(analytics_log.records)
    ran = await asyncio.gather(first.tick(force=True), second.tick(force=True))
    assert any(ran)
    await analytics_log.settle(2.0)
    assert len(analytics_log.records) == before
    trend_ids = [r.payload["trend_id"] for r in analytics_log.of_type("analytics.trend.detected")]
    assert len(trend_ids) == len(set(trend_ids))
