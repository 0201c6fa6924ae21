"""Profitability from events, exactly, to the cent: in order, and shuffled with duplicates across topics."""

from __future__ import annotations

import random
from decimal import Decimal

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.analytics.tests.conftest import ANALYST, applied, publish, unique
from services.analytics.tests.scenario import EXPECTED_A, EXPECTED_A_MONTHS, EXPECTED_B, figures, scenario
from shared.testing.erasure import PersonalData, assert_erased

pytestmark = pytest.mark.integration


async def detail(client: httpx.AsyncClient, customer_id: str) -> dict:
    response = await client.get(f"/profitability/customers/{customer_id}", headers=ANALYST)
    assert response.status_code == 200, response.text
    return response.json()


async def check(client: httpx.AsyncClient, a: str, b: str, d: str) -> None:
    body = await detail(client, a)
    assert figures(body, EXPECTED_A) == EXPECTED_A
    months = {m["month"]: m for m in body["months"]}
    for month, expected in EXPECTED_A_MONTHS.items():
        assert figures(months[month], expected) == expected
    costs = {c["activity"]: (c["count"], Decimal(c["cost"])) for c in body["cost_to_serve_by_activity"]}
    assert costs == {
        "interaction.phone": (2, Decimal("30000.00")),
        "interaction.email": (1, Decimal("5000.00")),
        "consultation": (1, Decimal("150000.00")),
        "announcement.email": (1, Decimal("500.00")),
        "case.complaint": (1, Decimal("100000.00")),
    }
    assert body["segment"] == "wholesale" and body["manager_id"] == "emp-1"
    survivor = await detail(client, b)
    assert figures(survivor, EXPECTED_B) == EXPECTED_B
    via_duplicate = await detail(client, d)  # a merged customer's figures are its survivor's
    assert via_duplicate["customer_id"] == b and via_duplicate["requested_id"] == d
    assert via_duplicate["status"] == "merged" and figures(via_duplicate, EXPECTED_B) == EXPECTED_B


async def test_figures_in_order_are_exact(app: FastAPI, client: httpx.AsyncClient, producer: AIOKafkaProducer) -> None:
    a, b, d = unique("ca-"), unique("cb-"), unique("cd-")
    events = scenario(a, b, d, unique())
    await publish(producer, events)
    await applied(app, events)
    await check(client, a, b, d)


async def test_shuffled_and_duplicated_delivery_gives_the_same_figures(
    app: FastAPI, client: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    a, b, d = unique("ca-"), unique("cb-"), unique("cd-")
    events = scenario(a, b, d, unique())
    shuffled = events + random.Random(4).sample(events, 8)  # eight delivered twice
    random.Random(10).shuffle(shuffled)  # return before payment, case before registration, merge before orders
    await publish(producer, shuffled)
    await applied(app, events)
    await check(client, a, b, d)


async def test_segment_and_manager_rollups_follow_the_customers(
    app: FastAPI, client: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    a, b, d = unique("ca-"), unique("cb-"), unique("cd-")
    events = scenario(a, b, d, unique())
    before = {g["key"]: g for g in (await client.get("/profitability/managers", headers=ANALYST)).json()["items"]}
    await publish(producer, events)
    await applied(app, events)
    after = {g["key"]: g for g in (await client.get("/profitability/managers", headers=ANALYST)).json()["items"]}

    def change(key: str, measure: str) -> Decimal:
        return Decimal(after[key][measure]) - Decimal(before.get(key, {}).get(measure, "0"))

    assert change("emp-1", "net_contribution") == EXPECTED_A["net_contribution"]
    assert change("emp-2", "revenue") == EXPECTED_B["revenue"]  # the duplicate's sale moved to B's manager
    assert change("emp-3", "revenue") == 0 if "emp-3" in after else True


async def test_erasure_keeps_the_figures_and_no_personal_data_is_stored(
    app: FastAPI, client: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    from services.analytics.tests import builders
    from services.analytics.tests.scenario import at

    a, b, d = unique("ca-"), unique("cb-"), unique("cd-")
    events = scenario(a, b, d, unique())
    events.append(builders.erased(a, at=at(5, 1)))
    await publish(producer, events)
    await applied(app, events)
    body = await detail(client, a)
    assert body["status"] == "erased" and figures(body, EXPECTED_A) == EXPECTED_A
    # Analytics keeps ids, segments and figures only: the name and free text of (retired) version-1 events
    # never land in its database. The shared erasure check searches every text column of every table.
    await assert_erased(app.state.runtime.db.url, PersonalData(name="PT Test", also=("called",)),
                        since=at(5, 1))
