"""Merging duplicates and erasing personal data on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.customers.tests.conftest import (
    ADMIN,
    MANAGER,
    SUPPORT,
    assert_problem,
    company,
    grant,
    person,
    register,
    unique,
    unique_email,
    unique_phone,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


async def interaction(client: httpx.AsyncClient, customer_id: str, summary: str = "called about paper") -> dict:
    response = await client.post(f"/customers/{customer_id}/interactions", headers=MANAGER, json={
        "channel": "phone", "direction": "in", "summary": summary,
        "occurred_at": (NOW - timedelta(hours=1)).isoformat()})
    assert response.status_code == 201, response.text
    return response.json()


async def merge(client: httpx.AsyncClient, survivor: str, duplicate: str,
                headers: dict[str, str] = MANAGER) -> httpx.Response:
    return await client.post(f"/customers/{survivor}/merge", json={"duplicate_id": duplicate}, headers=headers)


# ----- merging --------------------------------------------------------------------------

async def test_merge_moves_identifiers_tags_consents_and_interactions(client: httpx.AsyncClient) -> None:
    survivor = await register(client, person(tags=["vip"], segment="retail"))
    phone = unique_phone()
    duplicate = await register(client, person(name="Ana W", phones=[phone], tags=["school"], notes="old notes",
                                              address={"line1": "Jl. Braga 5", "city": "Bandung",
                                                       "country": "ID"}))
    await grant(client, duplicate["id"], "sms")
    logged = await interaction(client, duplicate["id"])

    response = await merge(client, survivor["id"], duplicate["id"])
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["id"] == survivor["id"]
    assert merged["emails"] == survivor["emails"] + duplicate["emails"]
    assert merged["phones"] == duplicate["phones"]
    assert merged["tags"] == ["school", "vip"]
    assert merged["segment"] == "retail"
    assert merged["address"]["line1"] == "Jl. Braga 5"
    assert f"[merged from {duplicate['id']}] old notes" in merged["notes"]
    assert merged["consents"] == {"sms": True}
    assert merged["status"] == "active"

    retired = (await client.get(f"/customers/{duplicate['id']}", headers=MANAGER)).json()
    assert retired["status"] == "merged"
    assert retired["merged_into_id"] == survivor["id"]

    log = (await client.get(f"/customers/{survivor['id']}/interactions", headers=MANAGER)).json()
    assert [i["id"] for i in log["items"]] == [logged["id"]]
    assert log["items"][0]["customer_id"] == survivor["id"]
    history = (await client.get(f"/customers/{survivor['id']}/consents", headers=MANAGER)).json()["history"]
    assert [(h["channel"], h["granted"]) for h in history] == [("sms", True)]

    # The duplicate's identifiers now recognise the survivor.
    for clash in (person(emails=duplicate["emails"]), person(phones=[phone])):
        problem = assert_problem(await client.post("/customers", json=clash, headers=MANAGER), 409)
        assert problem["existing_customer_id"] == survivor["id"]


async def test_writes_to_a_merged_customer_are_409_naming_the_survivor(client: httpx.AsyncClient) -> None:
    survivor, duplicate = await register(client), await register(client)
    assert (await merge(client, survivor["id"], duplicate["id"])).status_code == 200
    gone = duplicate["id"]
    writes = [
        client.patch(f"/customers/{gone}", json={"name": "x"}, headers=MANAGER),
        client.put(f"/customers/{gone}/consents", headers=SUPPORT,
                   json={"consents": [{"channel": "email", "granted": True, "source": "form"}]}),
        client.put(f"/customers/{gone}/manager", json={"employee_id": "emp-1"}, headers=MANAGER),
        client.post(f"/customers/{gone}/interactions", headers=MANAGER, json={
            "channel": "phone", "direction": "in", "summary": "x", "occurred_at": NOW.isoformat()}),
        client.post(f"/customers/{gone}/consultations", headers=MANAGER, json={
            "topic": "x", "due_at": NOW.isoformat(), "employee_id": "emp-1"}),
        merge(client, gone, (await register(client))["id"]),
        merge(client, (await register(client))["id"], gone),
        client.post(f"/customers/{gone}/erase", headers=SUPPORT),
    ]
    for write in writes:
        response = await write
        assert assert_problem(response, 409)["survivor_id"] == survivor["id"], response.request.url


async def test_merging_into_itself_is_422(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert_problem(await merge(client, created["id"], created["id"]), 422)


async def test_merging_unknown_customers_is_404(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert_problem(await merge(client, created["id"], "no-such-customer"), 404)
    assert_problem(await merge(client, "no-such-customer", created["id"]), 404)


async def test_companies_with_different_tax_ids_are_not_merged(client: httpx.AsyncClient) -> None:
    first, second = await register(client, company()), await register(client, company())
    problem = assert_problem(await merge(client, first["id"], second["id"]), 409)
    assert problem["survivor_tax_id"] == first["tax_id"] and problem["duplicate_tax_id"] == second["tax_id"]
    # Nothing changed.
    assert (await client.get(f"/customers/{second['id']}", headers=MANAGER)).json()["status"] == "active"
    assert (await client.get(f"/customers/{first['id']}", headers=MANAGER)).json()["emails"] == first["emails"]


async def test_a_person_cannot_absorb_a_companys_tax_id(client: httpx.AsyncClient) -> None:
    someone, firm = await register(client), await register(client, company())
    assert_problem(await merge(client, someone["id"], firm["id"]), 409)
    # The other way round is how such duplicates are merged.
    response = await merge(client, firm["id"], someone["id"])
    assert response.status_code == 200, response.text
    assert response.json()["tax_id"] == firm["tax_id"]


async def test_the_survivors_consent_wins_and_its_preference_stays_consented(client: httpx.AsyncClient) -> None:
    survivor, duplicate = await register(client), await register(client)
    await client.put(f"/customers/{survivor['id']}/consents", headers=SUPPORT, json={"consents": [
        {"channel": "sms", "granted": False, "source": "asked to stop"},
        {"channel": "email", "granted": True, "source": "form"}]})
    await grant(client, duplicate["id"], "sms", "post", preferred="sms")
    response = await merge(client, survivor["id"], duplicate["id"])
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["consents"] == {"sms": False, "email": True, "post": True}
    # The duplicate preferred sms, which the survivor withdrew: no preference without consent.
    assert merged["preferred_channel"] in (None, "email", "post")
    if merged["preferred_channel"]:
        assert merged["consents"][merged["preferred_channel"]]


async def test_merge_keeps_one_current_manager_in_the_history(client: httpx.AsyncClient) -> None:
    survivor, duplicate = await register(client), await register(client)
    keeper, other = unique("emp-"), unique("emp-")
    await client.put(f"/customers/{survivor['id']}/manager", json={"employee_id": keeper}, headers=MANAGER)
    await client.put(f"/customers/{duplicate['id']}/manager", json={"employee_id": other}, headers=MANAGER)
    assert (await merge(client, survivor["id"], duplicate["id"])).status_code == 200
    manager = (await client.get(f"/customers/{survivor['id']}/manager", headers=MANAGER)).json()
    assert manager["manager_id"] == keeper
    current = [h for h in manager["history"] if h["ended_at"] is None]
    assert [h["employee_id"] for h in current] == [keeper]
    assert {h["employee_id"] for h in manager["history"]} == {keeper, other}


async def test_merge_needs_the_manager_role(client: httpx.AsyncClient) -> None:
    survivor, duplicate = await register(client), await register(client)
    assert_problem(await merge(client, survivor["id"], duplicate["id"], headers=SUPPORT), 403)
    assert (await merge(client, survivor["id"], duplicate["id"], headers=ADMIN)).status_code == 200


# ----- erasing --------------------------------------------------------------------------

async def test_erase_removes_personal_data_and_frees_the_identifiers(client: httpx.AsyncClient) -> None:
    email, phone = unique_email(), unique_phone()
    created = await register(client, person(
        name="Citra Lestari", emails=[email], phones=[phone], notes="lives next to the shop", source="friend",
        segment="retail", tags=["vip"], address={"line1": "Jl. Dago 10", "city": "Bandung", "country": "ID"}))
    await grant(client, created["id"], "email", preferred="email")
    await interaction(client, created["id"], summary="Citra asked about her order")

    response = await client.post(f"/customers/{created['id']}/erase", headers=SUPPORT)
    assert response.status_code == 200, response.text
    erased = response.json()
    assert erased["id"] == created["id"]
    assert erased["status"] == "erased"
    assert erased["erased_at"] is not None
    assert erased["name"] != "Citra Lestari"
    assert erased["emails"] == [] and erased["phones"] == [] and erased["tax_id"] is None
    assert erased["address"] is None and erased["notes"] is None and erased["source"] is None
    assert erased["preferred_channel"] is None
    assert erased["segment"] == "retail"  # not personal: kept for the statistics

    again = await client.get(f"/customers/{created['id']}", headers=MANAGER)
    assert again.status_code == 200 and again.json()["status"] == "erased"
    log = (await client.get(f"/customers/{created['id']}/interactions", headers=MANAGER)).json()["items"]
    assert all("Citra" not in i["summary"] for i in log)
    assert await client_search(client, "Citra Lestari") == []
    assert created["id"] not in await client_search(client, email)

    # The same person registering again is a new customer.
    fresh = await register(client, person(emails=[email], phones=[phone]))
    assert fresh["id"] != created["id"]


async def client_search(client: httpx.AsyncClient, q: str) -> list[str]:
    response = await client.get("/customers", params={"q": q}, headers=MANAGER)
    return [c["id"] for c in response.json()["items"]]


async def test_writes_to_an_erased_customer_are_410(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert (await client.post(f"/customers/{created['id']}/erase", headers=SUPPORT)).status_code == 200
    gone = created["id"]
    for response in [
        await client.patch(f"/customers/{gone}", json={"name": "x"}, headers=MANAGER),
        await client.put(f"/customers/{gone}/consents", headers=SUPPORT,
                         json={"consents": [{"channel": "email", "granted": True, "source": "form"}]}),
        await client.put(f"/customers/{gone}/manager", json={"employee_id": "emp-1"}, headers=MANAGER),
        await client.post(f"/customers/{gone}/interactions", headers=MANAGER, json={
            "channel": "phone", "direction": "in", "summary": "x", "occurred_at": NOW.isoformat()}),
        await client.post(f"/customers/{gone}/consultations", headers=MANAGER, json={
            "topic": "x", "due_at": NOW.isoformat(), "employee_id": "emp-1"}),
        await merge(client, gone, (await register(client))["id"]),
        await merge(client, (await register(client))["id"], gone),
    ]:
        assert_problem(response, 410)


async def test_erasing_twice_is_harmless(client: httpx.AsyncClient) -> None:
    created = await register(client)
    first = await client.post(f"/customers/{created['id']}/erase", headers=SUPPORT)
    second = await client.post(f"/customers/{created['id']}/erase", headers=SUPPORT)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


async def test_erasing_a_survivor_erases_what_was_merged_into_it(client: httpx.AsyncClient) -> None:
    survivor = await register(client)
    duplicate = await register(client, person(name="Dewi Sartika", phones=[unique_phone()], notes="private"))
    assert (await merge(client, survivor["id"], duplicate["id"])).status_code == 200
    assert (await client.post(f"/customers/{survivor['id']}/erase", headers=SUPPORT)).status_code == 200
    retired = (await client.get(f"/customers/{duplicate['id']}", headers=MANAGER)).json()
    assert retired["name"] != "Dewi Sartika"
    assert retired["emails"] == [] and retired["phones"] == [] and retired["notes"] is None
    assert await client_search(client, "Dewi Sartika") == []


async def test_erasing_a_merged_customer_points_at_the_survivor(client: httpx.AsyncClient) -> None:
    survivor, duplicate = await register(client), await register(client)
    assert (await merge(client, survivor["id"], duplicate["id"])).status_code == 200
    response = await client.post(f"/customers/{duplicate['id']}/erase", headers=SUPPORT)
    assert assert_problem(response, 409)["survivor_id"] == survivor["id"]


async def test_erase_needs_the_support_role_and_a_known_customer(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert_problem(await client.post(f"/customers/{created['id']}/erase", headers=MANAGER), 403)
    assert_problem(await client.post("/customers/no-such-customer/erase", headers=SUPPORT), 404)
