"""Registering, finding and changing customers over HTTP, against PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from services.customers.tests.conftest import (
    ANALYST,
    MANAGER,
    SERVICE,
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


# ----- registering --------------------------------------------------------------------------

async def test_register_answers_201_with_location_and_normalised_data(client: httpx.AsyncClient) -> None:
    local = unique("ana.")
    body = person(
        name="  Ana Wijaya  ", emails=[f"{local.upper()}@Example.COM", f"{local}@example.com"],
        phones=["0812-3456-7891", "+62 812 3456 7891"], segment=" Retail ", source="Trade fair 2026",
        first_contact_channel="phone", tags=["VIP", " vip ", "Back-to-school"], notes="Prefers mornings",
        address={"line1": "Jl. Merdeka 1", "city": "Bandung", "postal_code": "40111", "country": "id"},
    )
    response = await client.post("/customers", json=body, headers=SUPPORT)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/customers/{created['id']}"
    assert created["name"] == "Ana Wijaya"
    assert created["emails"] == [f"{local}@example.com"]
    assert created["phones"] == ["+6281234567891"]
    assert created["segment"] == "retail"
    assert created["tags"] == ["back-to-school", "vip"]
    assert created["address"]["country"] == "ID"
    assert created["status"] == "active"
    assert created["consents"] == {} and created["preferred_channel"] is None and created["manager_id"] is None
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")

    fetched = await client.get(response.headers["location"], headers=ANALYST)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_a_company_registers_with_its_tax_id_normalised(client: httpx.AsyncClient) -> None:
    created = await register(client, company(tax_id="01.234.567.8-901.001", emails=[]))
    assert created["tax_id"] == "012345678901001"
    assert created["kind"] == "company"


async def test_a_customer_may_be_registered_by_phone_alone(client: httpx.AsyncClient) -> None:
    created = await register(client, {"kind": "person", "name": "Budi", "phones": ["+1 415 555 0199"]})
    assert created["phones"] == ["+14155550199"] and created["emails"] == []


async def test_the_preferred_channel_is_set_with_the_consents_not_at_registration(client: httpx.AsyncClient) -> None:
    response = await client.post("/customers", json=person(preferred_channel="email"), headers=MANAGER)
    assert assert_problem(response, 422)["field"] == "preferred_channel"


async def test_an_invalid_phone_number_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/customers", json=person(phones=["0812"]), headers=MANAGER)
    assert assert_problem(response, 422)["field"] == "phones"


async def test_a_duplicate_email_in_another_case_is_409_naming_the_existing_customer(
        client: httpx.AsyncClient) -> None:
    email = unique_email()
    first = await register(client, person(emails=[email]))
    response = await client.post("/customers", json=person(name="Someone else", emails=[f"  {email.upper()} "]),
                                 headers=MANAGER)
    problem = assert_problem(response, 409)
    assert problem["existing_customer_id"] == first["id"]
    assert problem["matched"] == [{"kind": "email", "value": email}]


async def test_a_duplicate_phone_typed_differently_is_409(client: httpx.AsyncClient) -> None:
    national = unique_phone()  # 0812xxxxxxxx
    first = await register(client, person(emails=[], phones=[national]))
    international = "+62 " + national[1:4] + " " + national[4:8] + " " + national[8:]
    response = await client.post("/customers", json=person(phones=[international]), headers=MANAGER)
    assert assert_problem(response, 409)["existing_customer_id"] == first["id"]
    digits_only = "62" + national[1:]
    response = await client.post("/customers", json=person(phones=[digits_only]), headers=MANAGER)
    assert assert_problem(response, 409)["existing_customer_id"] == first["id"]


async def test_a_duplicate_tax_id_with_other_punctuation_is_409(client: httpx.AsyncClient) -> None:
    first = await register(client, company(tax_id="02.111.222.3-444.555"))
    response = await client.post("/customers", json=company(tax_id=" 021112223444555 "), headers=MANAGER)
    assert assert_problem(response, 409)["existing_customer_id"] == first["id"]
    response = await client.post("/customers", json=company(tax_id="02-111-222-3-444-555"), headers=MANAGER)
    assert assert_problem(response, 409)["existing_customer_id"] == first["id"]


async def test_a_refused_duplicate_leaves_nothing_behind(client: httpx.AsyncClient) -> None:
    email, tag = unique_email(), unique("t")
    await register(client, person(emails=[email]))
    clash = person(emails=[unique_email(), email], tags=[tag])
    assert_problem(await client.post("/customers", json=clash, headers=MANAGER), 409)
    listed = await client.get("/customers", params={"tag": tag}, headers=MANAGER)
    assert listed.json()["items"] == []
    # The other, new e-mail of the refused request was not kept either.
    assert (await client.post("/customers", json=person(emails=[clash["emails"][0]]), headers=MANAGER)
            ).status_code == 201


async def test_concurrent_registrations_of_one_email_create_exactly_one_customer(
        client: httpx.AsyncClient) -> None:
    email = unique_email()
    responses = await asyncio.gather(*(
        client.post("/customers", json=person(name=f"Racer {i}", emails=[email]), headers=MANAGER)
        for i in range(10)
    ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert assert_problem(response, 409)["existing_customer_id"] == winner


async def test_concurrent_registrations_with_crossed_identifiers_never_fail_with_500(
        client: httpx.AsyncClient) -> None:
    # Two requests naming the same two e-mails in opposite order must not deadlock into a 500.
    for _ in range(3):
        a, b = unique_email("a"), unique_email("b")
        responses = await asyncio.gather(
            client.post("/customers", json=person(emails=[a, b]), headers=MANAGER),
            client.post("/customers", json=person(emails=[b, a]), headers=MANAGER),
        )
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]


# ----- finding --------------------------------------------------------------------------

async def test_get_an_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/customers/00000000-0000-0000-0000-000000000000", headers=MANAGER), 404)


@pytest.mark.parametrize("headers", [MANAGER, SUPPORT, ANALYST, SERVICE])
async def test_every_reading_role_may_list_and_get(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    created = await register(client)
    assert (await client.get(f"/customers/{created['id']}", headers=headers)).status_code == 200
    assert (await client.get("/customers", params={"limit": 1}, headers=headers)).status_code == 200


async def ids(client: httpx.AsyncClient, **params: object) -> list[str]:
    response = await client.get("/customers", params=params, headers=ANALYST)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def test_list_by_segment_manager_and_tag(client: httpx.AsyncClient) -> None:
    segment, tag, manager = unique("seg"), unique("tag"), unique("emp-")
    in_segment = await register(client, person(segment=segment.upper()))
    tagged = await register(client, person(tags=[tag]))
    managed = await register(client)
    assert (await client.put(f"/customers/{managed['id']}/manager", json={"employee_id": manager},
                             headers=MANAGER)).status_code == 200
    assert await ids(client, segment=segment) == [in_segment["id"]]
    assert await ids(client, segment=f" {segment.upper()} ") == [in_segment["id"]]
    assert await ids(client, tag=tag.upper()) == [tagged["id"]]
    assert await ids(client, manager_id=manager) == [managed["id"]]
    assert await ids(client, segment=unique("none")) == []


async def test_free_text_search_on_name_email_and_phone(client: httpx.AsyncClient) -> None:
    token = unique("Zq")
    phone = unique_phone()
    by_name = await register(client, person(name=f"Toko {token} Jaya"))
    by_email = await register(client, person(emails=[f"{token.lower()}@example.org"]))
    by_phone = await register(client, person(phones=[phone]))
    assert sorted(await ids(client, q=token.upper())) == sorted([by_name["id"], by_email["id"]])
    assert await ids(client, q=f"{token.lower()}@example") == [by_email["id"]]
    digits = phone[1:]  # the national number without its trunk 0: 812xxxxxxxx
    assert await ids(client, q=digits) == [by_phone["id"]]
    assert await ids(client, q="+62" + digits) == [by_phone["id"]]
    # Typed the way people write it: "0812-xxxx-xxxx".
    assert await ids(client, q=f"{phone[:4]}-{phone[4:8]}-{phone[8:]}") == [by_phone["id"]]
    # LIKE wildcards are literal characters, not patterns.
    assert await ids(client, q=f"{token}%") == []
    assert await ids(client, q="_" * 10) == []


async def test_list_by_created_range_and_status(client: httpx.AsyncClient) -> None:
    tag, segment = unique("range"), unique("seg")
    created = [await register(client, person(tags=[tag], segment=segment)) for _ in range(3)]
    middle = created[1]["created_at"]
    assert await ids(client, tag=tag, created_from=middle) == [created[2]["id"], created[1]["id"]]
    assert await ids(client, tag=tag, created_to=middle) == [created[0]["id"]]
    assert await ids(client, tag=tag, created_from=created[0]["created_at"], created_to=created[2]["created_at"]
                     ) == [created[1]["id"], created[0]["id"]]
    # Offsets other than Z mean the same instant.
    instant = datetime.fromisoformat(middle.replace("Z", "+00:00"))
    from datetime import timedelta, timezone
    jakarta = instant.astimezone(timezone(timedelta(hours=7))).isoformat()
    assert await ids(client, tag=tag, created_from=jakarta) == [created[2]["id"], created[1]["id"]]

    erased = created[0]["id"]
    assert (await client.post(f"/customers/{erased}/erase", headers=SUPPORT)).status_code == 200
    # The segment stays for the statistics; tags are free text and go with the personal data.
    assert await ids(client, segment=segment, status="erased") == [erased]
    assert await ids(client, segment=segment, status="active") == [created[2]["id"], created[1]["id"]]
    assert await ids(client, tag=tag) == [created[2]["id"], created[1]["id"]]


async def test_cursor_pagination_walks_every_customer_once_newest_first(client: httpx.AsyncClient) -> None:
    tag = unique("page")
    created = [(await register(client, person(tags=[tag])))["id"] for _ in range(7)]
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        params: dict[str, object] = {"tag": tag, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/customers", params=params, headers=MANAGER)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= 3
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # A customer registered while paging does not shift what comes next (it is newer).
        if pages == 1:
            await register(client, person(tags=[tag]))
    assert pages == 3
    assert seen == list(reversed(created))


async def test_customers_created_in_the_same_instant_are_not_lost_between_pages(
        client: httpx.AsyncClient) -> None:
    tag = unique("same")
    created = await asyncio.gather(*(
        client.post("/customers", json=person(tags=[tag]), headers=MANAGER) for _ in range(6)))
    expected = {r.json()["id"] for r in created}
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"tag": tag, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/customers", params=params, headers=MANAGER)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6
    assert set(seen) == expected


# ----- changing --------------------------------------------------------------------------

async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient) -> None:
    created = await register(client, person(segment="retail", notes="first note", tags=["a"]))
    response = await client.patch(f"/customers/{created['id']}", headers=SUPPORT, json={
        "name": "Ana W.", "segment": "Wholesale", "notes": None, "tags": ["B", "a"],
        "phones": ["0813-1111-2222"], "address": {"line1": "Jl. Asia Afrika 8", "city": "Bandung", "country": "ID"},
    })
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == "Ana W."
    assert changed["segment"] == "wholesale"
    assert changed["notes"] is None
    assert changed["tags"] == ["a", "b"]
    assert changed["phones"] == ["+6281311112222"]
    assert changed["emails"] == created["emails"]
    assert changed["address"]["line1"] == "Jl. Asia Afrika 8"
    assert changed["updated_at"] > created["updated_at"]
    assert changed["created_at"] == created["created_at"]
    assert (await client.get(f"/customers/{created['id']}", headers=MANAGER)).json() == changed


async def test_patch_frees_the_identifiers_it_replaces(client: httpx.AsyncClient) -> None:
    old, new = unique_email(), unique_email()
    created = await register(client, person(emails=[old]))
    assert (await client.patch(f"/customers/{created['id']}", json={"emails": [new]},
                               headers=MANAGER)).status_code == 200
    await register(client, person(emails=[old]))
    problem = assert_problem(await client.post("/customers", json=person(emails=[new]), headers=MANAGER), 409)
    assert problem["existing_customer_id"] == created["id"]


async def test_patch_keeping_its_own_identifiers_is_no_clash(client: httpx.AsyncClient) -> None:
    created = await register(client, person(phones=[unique_phone()]))
    response = await client.patch(f"/customers/{created['id']}", headers=MANAGER,
                                  json={"emails": [e.upper() for e in created["emails"]]})
    assert response.status_code == 200, response.text
    assert response.json()["emails"] == created["emails"]


async def test_patch_with_another_customers_identifier_is_409(client: httpx.AsyncClient) -> None:
    other = await register(client)
    created = await register(client)
    response = await client.patch(f"/customers/{created['id']}", json={"emails": other["emails"]}, headers=MANAGER)
    assert assert_problem(response, 409)["existing_customer_id"] == other["id"]


@pytest.mark.parametrize("body", [{}, {"name": None}, {"emails": None}, {"kind": None}, {"tags": None},
                                  {"phones": None}, {"name": ""}, {"status": "erased"}, {"id": "x"}])
async def test_patch_refuses_empty_bodies_nulls_for_required_fields_and_unknown_fields(
        client: httpx.AsyncClient, body: dict[str, object]) -> None:
    created = await register(client)
    assert_problem(await client.patch(f"/customers/{created['id']}", json=body, headers=MANAGER), 422)


async def test_patch_cannot_remove_the_last_identifier(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert_problem(await client.patch(f"/customers/{created['id']}", json={"emails": []}, headers=MANAGER), 422)


async def test_a_tax_id_stays_with_companies(client: httpx.AsyncClient) -> None:
    someone = await register(client)
    assert_problem(await client.patch(f"/customers/{someone['id']}", json={"tax_id": "99.888.777.6-555.444"},
                                      headers=MANAGER), 422)
    firm = await register(client, company())
    assert_problem(await client.patch(f"/customers/{firm['id']}", json={"kind": "person"}, headers=MANAGER), 422)
    response = await client.patch(f"/customers/{firm['id']}", json={"kind": "person", "tax_id": None},
                                  headers=MANAGER)
    assert response.status_code == 200, response.text
    assert response.json()["tax_id"] is None and response.json()["kind"] == "person"


async def test_patch_preferred_channel_needs_consent(client: httpx.AsyncClient) -> None:
    created = await register(client)
    assert_problem(await client.patch(f"/customers/{created['id']}", json={"preferred_channel": "email"},
                                      headers=MANAGER), 422)
    await grant(client, created["id"], "email")
    response = await client.patch(f"/customers/{created['id']}", json={"preferred_channel": "email"},
                                  headers=MANAGER)
    assert response.status_code == 200 and response.json()["preferred_channel"] == "email"


async def test_patch_of_an_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.patch("/customers/nobody", json={"name": "x"}, headers=MANAGER), 404)
