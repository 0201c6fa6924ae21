"""A history recorded afterwards: a case's instants may be given, never in the future nor out of order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from services.feedback.tests.conftest import (
    SUPPORT,
    FakeOwners,
    assert_problem,
    case_body,
    command,
    open_case,
    reply,
    resolve,
)

DAY = datetime(2025, 7, 14, 3, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def test_a_historical_case_keeps_its_instants_and_its_sla_outcome(client: httpx.AsyncClient,
                                                                       owners: FakeOwners) -> None:
    customer = owners.customer_()
    case = await open_case(client, customer, received_at=iso(DAY))
    assert case["received_at"].startswith("2025-07-14T03:00:00")
    # A first reply three days later is late whatever the calendar: the breach is history, not "now".
    await reply(client, case["id"], occurred_at=iso(DAY + timedelta(days=3)))
    resolved = await resolve(client, case["id"], occurred_at=iso(DAY + timedelta(days=4)))
    assert resolved["resolution"]["first_response_breached"] is True
    assert resolved["resolution"]["resolved_at"].startswith("2025-07-18T03:00:00")
    rated = await command(client, case["id"], "rating", {"rating": 4, "occurred_at": iso(DAY + timedelta(days=5))})
    assert rated["resolution"]["rated_at"].startswith("2025-07-19T03:00:00")
    detail = (await client.get(f"/cases/{case['id']}", headers=SUPPORT)).json()
    assert [a["at"][:10] for a in detail["timeline"]] == sorted(a["at"][:10] for a in detail["timeline"])
    assert detail["timeline"][0]["at"].startswith("2025-07-14")


async def test_a_future_receipt_is_refused(client: httpx.AsyncClient, owners: FakeOwners) -> None:
    future = iso(datetime.now(UTC) + timedelta(hours=2))
    response = await client.post("/cases", json=case_body(owners.customer_(), received_at=future), headers=SUPPORT)
    assert "future" in assert_problem(response, 422)["detail"]


async def test_a_step_before_the_previous_one_or_in_the_future_is_refused(client: httpx.AsyncClient,
                                                                        owners: FakeOwners) -> None:
    case = await open_case(client, owners.customer_(), received_at=iso(DAY))
    body = {"kind": "reply", "body": "Kami sedang memeriksa.", "channel": "email"}
    before = await client.post(f"/cases/{case['id']}/responses", headers=SUPPORT,
                               json={**body, "occurred_at": iso(DAY - timedelta(minutes=1))})
    assert assert_problem(before, 422)["previous_at"].startswith("2025-07-14T03:00:00")
    future = await client.post(f"/cases/{case['id']}/responses", headers=SUPPORT,
                               json={**body, "occurred_at": iso(datetime.now(UTC) + timedelta(hours=1))})
    assert_problem(future, 422)
    await reply(client, case["id"], occurred_at=iso(DAY + timedelta(hours=1)))
    early = await client.post(f"/cases/{case['id']}/resolve", headers=SUPPORT,
                              json={"outcome": "upheld", "text": "Replaced.", "occurred_at": iso(DAY)})
    assert_problem(early, 422)
    await resolve(client, case["id"], occurred_at=iso(DAY + timedelta(hours=2)))
    rating = await client.post(f"/cases/{case['id']}/rating", headers=SUPPORT,
                               json={"rating": 5, "occurred_at": iso(DAY + timedelta(hours=1))})
    assert_problem(rating, 422)
    naive = await client.post(f"/cases/{case['id']}/rating", headers=SUPPORT,
                              json={"rating": 5, "occurred_at": "2025-07-15T03:00:00"})
    assert_problem(naive, 422)


async def test_a_timely_historical_reply_is_no_breach_though_its_deadline_is_long_past(
        client: httpx.AsyncClient, owners: FakeOwners) -> None:
    case = await open_case(client, owners.customer_(), received_at=iso(DAY))
    await asyncio.sleep(3)  # the breach detector (waking at most every 2 s here) has had its chance
    await reply(client, case["id"], occurred_at=iso(DAY + timedelta(minutes=10)))
    resolved = await resolve(client, case["id"], occurred_at=iso(DAY + timedelta(hours=1)))
    assert resolved["resolution"]["first_response_breached"] is False
    assert resolved["resolution"]["resolution_breached"] is False
    detail = (await client.get(f"/cases/{case['id']}", headers=SUPPORT)).json()
    assert "sla_breached" not in [a["kind"] for a in detail["timeline"]]
