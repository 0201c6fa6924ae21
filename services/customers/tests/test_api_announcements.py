"""Announcements: the audience, one delivery per customer on the best channel, safe retries."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.customers.tests.conftest import (
    ANALYST,
    MANAGER,
    SUPPORT,
    EventLog,
    assert_problem,
    grant,
    person,
    register,
    unique,
    unique_phone,
)
from shared.testing.apps import bearer

pytestmark = pytest.mark.integration


def announcement(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"title": f"New catalogue {unique()}", "body": "The back-to-school range is here.",
                               "channels": ["email", "sms"]}
    body.update(overrides)
    return body


async def announce(client: httpx.AsyncClient, body: dict[str, object], headers: dict[str, str] = MANAGER,
                   key: str | None = None) -> httpx.Response:
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post("/announcements", json=body, headers=headers)


async def deliveries(client: httpx.AsyncClient, announcement_id: str, **params: object) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        response = await client.get(f"/announcements/{announcement_id}/deliveries", params=query, headers=ANALYST)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_the_audience_is_active_consenting_customers_of_the_segments(client: httpx.AsyncClient) -> None:
    segment, other_segment, unrelated = unique("seg"), unique("seg"), unique("seg")
    by_email = await register(client, person(segment=segment))
    await grant(client, by_email["id"], "email")
    prefers_sms = await register(client, person(segment=segment, phones=[unique_phone()]))
    await grant(client, prefers_sms["id"], "email", "sms", preferred="sms")
    in_other = await register(client, person(segment=other_segment, phones=[unique_phone()]))
    await grant(client, in_other["id"], "sms")
    only_post = await register(client, person(segment=segment))
    await grant(client, only_post["id"], "post")  # a channel this announcement does not use
    no_consent = await register(client, person(segment=segment))
    withdrawn = await register(client, person(segment=segment))
    await grant(client, withdrawn["id"], "email")
    await client.put(f"/customers/{withdrawn['id']}/consents", headers=SUPPORT,
                     json={"consents": [{"channel": "email", "granted": False, "source": "unsubscribed"}]})
    erased = await register(client, person(segment=segment))
    await grant(client, erased["id"], "email")
    await client.post(f"/customers/{erased['id']}/erase", headers=SUPPORT)
    merged = await register(client, person(segment=segment))
    await grant(client, merged["id"], "email")
    await client.post(f"/customers/{by_email['id']}/merge", json={"duplicate_id": merged["id"]}, headers=MANAGER)
    elsewhere = await register(client, person(segment=unrelated))
    await grant(client, elsewhere["id"], "email")

    response = await announce(client, announcement(segments=[segment.upper(), other_segment]))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["segments"] == [segment, other_segment]
    assert created["channels"] == ["email", "sms"]
    assert (created["audience_size"], created["sent"], created["failed"]) == (3, 3, 0)
    assert created["deliveries_by_channel"] == {"email": 1, "sms": 2}
    assert created["created_by"] == "mgr-1"

    got = await deliveries(client, created["id"])
    assert {d["customer_id"]: (d["channel"], d["status"]) for d in got} == {
        by_email["id"]: ("email", "sent"), prefers_sms["id"]: ("sms", "sent"), in_other["id"]: ("sms", "sent")}
    assert not {only_post["id"], no_consent["id"], withdrawn["id"], erased["id"], merged["id"],
                elsewhere["id"]} & {d["customer_id"] for d in got}

    fetched = await client.get(f"/announcements/{created['id']}", headers=ANALYST)
    assert fetched.status_code == 200 and fetched.json() == created


async def test_the_channel_order_of_the_announcement_applies_without_a_preference(
        client: httpx.AsyncClient) -> None:
    segment = unique("seg")
    both = await register(client, person(segment=segment, phones=[unique_phone()]))
    await grant(client, both["id"], "email", "sms")
    created = (await announce(client, announcement(segments=[segment], channels=["sms", "email"]))).json()
    assert [d["channel"] for d in await deliveries(client, created["id"])] == ["sms"]
    created = (await announce(client, announcement(segments=[segment], channels=["email", "sms"]))).json()
    assert [d["channel"] for d in await deliveries(client, created["id"])] == ["email"]


async def test_when_the_preferred_channel_cannot_reach_the_next_consented_one_is_used(
        client: httpx.AsyncClient) -> None:
    segment = unique("seg")
    no_phone = await register(client, person(segment=segment))  # e-mail only
    await grant(client, no_phone["id"], "sms", "email", preferred="sms")
    no_address = await register(client, person(segment=segment))
    await grant(client, no_address["id"], "post")
    created = (await announce(client, announcement(segments=[segment], channels=["sms", "email", "post"]))).json()
    got = {d["customer_id"]: d for d in await deliveries(client, created["id"])}
    assert (got[no_phone["id"]]["channel"], got[no_phone["id"]]["status"]) == ("email", "sent")
    # A leaflet needs a postal address: recorded as failed, not as sent.
    assert (got[no_address["id"]]["channel"], got[no_address["id"]]["status"]) == ("post", "failed")
    assert "address" in got[no_address["id"]]["detail"]
    # Both were targeted: the audience counts the failed delivery too, reported apart.
    assert (created["audience_size"], created["sent"], created["failed"]) == (2, 1, 1)
    assert created["deliveries_by_channel"] == {"email": 1}
    fetched = (await client.get(f"/announcements/{created['id']}", headers=ANALYST)).json()
    assert (fetched["audience_size"], fetched["sent"], fetched["failed"]) == (2, 1, 1)


async def test_deliveries_page_through_every_customer_once(client: httpx.AsyncClient) -> None:
    segment = unique("seg")
    expected = set()
    for _ in range(5):
        customer = await register(client, person(segment=segment))
        await grant(client, customer["id"], "email")
        expected.add(customer["id"])
    created = (await announce(client, announcement(segments=[segment]))).json()
    got = await deliveries(client, created["id"], limit=2)
    assert [d["customer_id"] for d in got] == sorted(expected)


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_announcement(
        client: httpx.AsyncClient, event_log: EventLog) -> None:
    segment = unique("seg")
    customer = await register(client, person(segment=segment))
    await grant(client, customer["id"], "email")
    body, key = announcement(segments=[segment]), unique("key-")
    first = await announce(client, body, key=key)
    assert first.status_code == 201, first.text
    retries = await asyncio.gather(*(announce(client, body, key=key) for _ in range(4)))
    for retry in retries:
        assert retry.status_code == 201
        assert retry.json() == first.json()
    assert len(await deliveries(client, first.json()["id"])) == 1
    dispatched = await event_log.wait_for(
        lambda r: r.type == "customers.announcement.dispatched" and r.envelope["payload"]["title"] == body["title"])
    await event_log.settle()
    assert len([r for r in event_log.records if r.type == "customers.announcement.dispatched"
                and r.envelope["payload"]["title"] == body["title"]]) == len(dispatched) == 1

    # The same key with another body is a mistake, not a retry.
    assert_problem(await announce(client, {**body, "title": "Something else"}, key=key), 422)
    # Keys belong to whoever sent them: another manager's same key is a new announcement.
    other = await announce(client, body, headers=bearer("manager", subject="mgr-2"), key=key)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


async def test_concurrent_first_requests_with_one_key_create_one_announcement(client: httpx.AsyncClient) -> None:
    body, key = announcement(segments=[unique("seg")]), unique("key-")
    responses = await asyncio.gather(*(announce(client, body, key=key) for _ in range(5)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1


async def test_an_announcement_to_every_segment(fresh_client: httpx.AsyncClient) -> None:
    client = fresh_client
    reached = []
    for segment in ("wholesale", None, "schools"):
        customer = await register(client, person(segment=segment) if segment else person())
        await grant(client, customer["id"], "email")
        reached.append(customer["id"])
    await register(client, person(segment="offices"))  # no consent
    created = (await announce(client, announcement(segments=None))).json()
    assert created["segments"] is None
    assert created["audience_size"] == 3
    assert sorted(d["customer_id"] for d in await deliveries(client, created["id"])) == sorted(reached)


async def test_an_announcement_nobody_may_receive_still_records_itself(client: httpx.AsyncClient) -> None:
    response = await announce(client, announcement(segments=[unique("empty")]))
    assert response.status_code == 201
    assert response.json()["audience_size"] == 0 and response.json()["deliveries_by_channel"] == {}
    assert (response.json()["sent"], response.json()["failed"]) == (0, 0)
    assert await deliveries(client, response.json()["id"]) == []


@pytest.mark.parametrize("changes", [{"channels": []}, {"channels": ["fax"]}, {"segments": []}, {"title": ""},
                                     {"title": "x" * 201}, {"body": None}, {"audience": "all"},
                                     {"segments": "retail"}])
async def test_invalid_announcements_are_422(client: httpx.AsyncClient, changes: dict[str, object]) -> None:
    assert_problem(await announce(client, announcement(**changes)), 422)


async def test_announcement_roles_and_unknown_ids(client: httpx.AsyncClient) -> None:
    assert_problem(await announce(client, announcement(), headers=SUPPORT), 403)
    assert_problem(await announce(client, announcement(), headers=ANALYST), 403)
    assert_problem(await client.get("/announcements/nope", headers=ANALYST), 404)
    assert_problem(await client.get("/announcements/nope/deliveries", headers=ANALYST), 404)
    assert_problem(await announce(client, announcement(), key=""), 422)
    assert_problem(await announce(client, announcement(), key="k" * 201), 422)
