"""Every 4xx path answers problem+json with a status: tokens, roles, unknown ids, invalid input, size."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
import pytest

from services.customers.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SERVICE,
    SUPPORT,
    assert_problem,
    person,
    register,
)
from shared.config import LOCAL_JWT_SECRET
from shared.http.auth import issue_token
from shared.testing.apps import bearer

pytestmark = pytest.mark.integration

UNKNOWN = "00000000-0000-0000-0000-000000000000"

# (method, path template, a valid body or None); {id} is a real customer, {cid} a consultation, {aid} an announcement.
ROUTES: list[tuple[str, str, dict[str, object] | None]] = [
    ("POST", "/customers", None),
    ("GET", "/customers", None),
    ("GET", "/customers/{id}", None),
    ("PATCH", "/customers/{id}", {"name": "x"}),
    ("POST", "/customers/{id}/merge", {"duplicate_id": UNKNOWN}),
    ("POST", "/customers/{id}/erase", None),
    ("GET", "/customers/{id}/consents", None),
    ("PUT", "/customers/{id}/consents", {"consents": [{"channel": "email", "granted": True, "source": "f"}]}),
    ("GET", "/customers/{id}/manager", None),
    ("PUT", "/customers/{id}/manager", {"employee_id": "emp-1"}),
    ("POST", "/customers/{id}/interactions", {"channel": "sms", "direction": "out", "summary": "s",
                                              "occurred_at": "2026-01-01T00:00:00Z"}),
    ("GET", "/customers/{id}/interactions", None),
    ("POST", "/customers/{id}/consultations", {"topic": "t", "due_at": "2026-01-01T00:00:00Z",
                                               "employee_id": "e"}),
    ("GET", "/consultations", None),
    ("POST", "/consultations/{cid}/complete", {"outcome": "done"}),
    ("POST", "/announcements", {"title": "t", "body": "b", "channels": ["email"]}),
    ("GET", "/announcements/{aid}", None),
    ("GET", "/announcements/{aid}/deliveries", None),
]


def token_with(claims: dict[str, object], secret: str = LOCAL_JWT_SECRET) -> dict[str, str]:
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


BAD_AUTH: list[tuple[str, dict[str, str]]] = [
    ("missing", {}),
    ("empty bearer", {"Authorization": "Bearer "}),
    ("basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("garbage", {"Authorization": "Bearer not.a.jwt"}),
    ("wrong secret", bearer("admin", secret="some-other-secret-that-is-long-enough-for-hs256")),
    ("expired", {"Authorization": "Bearer " + issue_token(secret=LOCAL_JWT_SECRET, subject="x", roles=["admin"],
                                                          ttl=timedelta(seconds=-60))}),
    ("no exp", token_with({"sub": "x", "roles": ["admin"]})),
    ("no sub", token_with({"roles": ["admin"], "exp": 4_102_444_800})),
    ("roles not a list", token_with({"sub": "x", "roles": "admin", "exp": 4_102_444_800})),
    ("alg none", {"Authorization": "Bearer " + jwt.encode({"sub": "x", "roles": ["admin"], "exp": 4_102_444_800},
                                                          None, algorithm="none")}),
]


@pytest.fixture(scope="module")
async def ids(client: httpx.AsyncClient) -> dict[str, str]:
    customer = await register(client)
    consultation = await client.post(f"/customers/{customer['id']}/consultations", headers=MANAGER,
                                     json={"topic": "t", "due_at": "2030-01-01T00:00:00Z", "employee_id": "e"})
    announcement = await client.post("/announcements", headers=MANAGER,
                                     json={"title": "t", "body": "b", "channels": ["email"]})
    return {"id": customer["id"], "cid": consultation.json()["id"], "aid": announcement.json()["id"]}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize(("why", "headers"), BAD_AUTH, ids=[w for w, _ in BAD_AUTH])
async def test_every_route_needs_a_valid_token(client: httpx.AsyncClient, ids: dict[str, str], method: str,
                                               path: str, body: dict[str, object] | None, why: str,
                                               headers: dict[str, str]) -> None:
    response = await client.request(method, path.format(**ids), json=body if body is not None else person(),
                                     headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_operations_routes_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


# Who may not do what: (method, path, role headers).
FORBIDDEN = [
    ("POST", "/customers", ANALYST), ("POST", "/customers", SERVICE),
    ("PATCH", "/customers/{id}", ANALYST), ("PATCH", "/customers/{id}", SERVICE),
    ("POST", "/customers/{id}/merge", SUPPORT), ("POST", "/customers/{id}/merge", ANALYST),
    ("POST", "/customers/{id}/erase", MANAGER), ("POST", "/customers/{id}/erase", ANALYST),
    ("PUT", "/customers/{id}/consents", ANALYST), ("PUT", "/customers/{id}/consents", SERVICE),
    ("PUT", "/customers/{id}/manager", SUPPORT), ("PUT", "/customers/{id}/manager", ANALYST),
    ("POST", "/customers/{id}/interactions", ANALYST), ("GET", "/customers/{id}/interactions", ANALYST),
    ("POST", "/customers/{id}/consultations", SERVICE), ("GET", "/consultations", ANALYST),
    ("POST", "/consultations/{cid}/complete", ANALYST),
    ("POST", "/announcements", SUPPORT), ("POST", "/announcements", SERVICE),
]


@pytest.mark.parametrize(("method", "path", "headers"), FORBIDDEN,
                         ids=[f"{m} {p} as {h['Authorization'][-8:]}" for m, p, h in FORBIDDEN])
async def test_wrong_roles_are_403(client: httpx.AsyncClient, ids: dict[str, str], method: str, path: str,
                                   headers: dict[str, str]) -> None:
    body = next(b for m, p, b in ROUTES if (m, p) == (method, path)) or person()
    assert_problem(await client.request(method, path.format(**ids), json=body, headers=headers), 403)


async def test_a_token_with_no_known_role_is_403(client: httpx.AsyncClient) -> None:
    headers = token_with({"sub": "x", "roles": [], "exp": 4_102_444_800})
    assert_problem(await client.get("/customers", headers=headers), 403)
    headers = token_with({"sub": "x", "roles": ["superuser"], "exp": 4_102_444_800})
    assert_problem(await client.get("/customers", headers=headers), 403)


UNKNOWN_IDS = [(m, p, b) for m, p, b in ROUTES if "{" in p]


@pytest.mark.parametrize(("method", "path", "body"), UNKNOWN_IDS, ids=[f"{m} {p}" for m, p, _ in UNKNOWN_IDS])
async def test_unknown_ids_are_404(client: httpx.AsyncClient, method: str, path: str,
                                   body: dict[str, object] | None) -> None:
    url = path.format(id=UNKNOWN, cid=UNKNOWN, aid=UNKNOWN)
    if path.endswith("/merge"):
        body = {"duplicate_id": "11111111-1111-1111-1111-111111111111"}
    assert_problem(await client.request(method, url, json=body, headers=ADMIN), 404)


async def test_unknown_routes_and_methods_are_problems_too(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no-such-route", headers=ADMIN), 404)
    assert_problem(await client.delete("/customers", headers=ADMIN), 405)


def cursor_of(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BAD_QUERIES = [
    {"limit": 0}, {"limit": 201}, {"limit": -1}, {"limit": "ten"}, {"limit": "1e3"},
    {"cursor": "%%%"}, {"cursor": "bm90IGpzb24"}, {"cursor": cursor_of([1, 2])}, {"cursor": cursor_of({})},
    {"cursor": cursor_of({"created_at": "yesterday", "id": "x"})},
    {"cursor": cursor_of({"created_at": 5, "id": "x"})},
    {"cursor": cursor_of({"created_at": "2026-01-01T00:00:00", "id": "x"})},        # naive
    {"cursor": cursor_of({"created_at": "2026-01-01T00:00:00+00:00", "id": 7})},
    {"cursor": cursor_of({"created_at": "2026-01-01T00:00:00+00:00", "id": "\u0000"})},
    {"cursor": "x" * 501},
    {"status": "sleeping"}, {"created_from": "monday"}, {"created_to": "2026-01-01T00:00:00"},
    {"created_from": "0001-01-01T00:00:00+14:00"}, {"q": ""}, {"q": "x" * 201}, {"q": "a\u0000b"},
    {"segment": "x" * 65}, {"tag": "t\u0000"}, {"manager_id": "m" * 65},
]


@pytest.mark.parametrize("params", BAD_QUERIES, ids=[str(p)[:60] for p in BAD_QUERIES])
async def test_invalid_list_queries_are_422(client: httpx.AsyncClient, params: dict[str, object]) -> None:
    assert_problem(await client.get("/customers", params=params, headers=ANALYST), 422)


async def test_invalid_cursors_of_the_other_lists_are_422(client: httpx.AsyncClient, ids: dict[str, str]) -> None:
    for path in (f"/customers/{ids['id']}/interactions", "/consultations", f"/announcements/{ids['aid']}/deliveries"):
        for cursor in ("%%%", cursor_of([1]), cursor_of({"occurred_at": "2026-01-01T00:00:00", "id": "x"}),
                       cursor_of({"due_at": "2026-01-01T00:00:00", "id": "x"}), cursor_of({"customer_id": 5}),
                       cursor_of({"customer_id": "\u0000"}), cursor_of({"due_at": "x\u0000", "id": "x"})):
            response = await client.get(path, params={"cursor": cursor}, headers=ADMIN)
            assert_problem(response, 422)


BAD_BODIES = [
    {}, [], "text", 42, None,
    {"kind": "person", "name": "Ana"},                                            # no identifier
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "tax_id": "0123456789"},  # tax id of a person
    {"kind": "company", "name": "PT A", "tax_id": "1-2"},                          # too short to be a tax id
    {"kind": "person", "name": "Ana", "emails": ["ana at example.com"]},
    {"kind": "person", "name": "Ana", "emails": "ana@example.com"},
    {"kind": "person", "name": "Ana", "emails": [["ana@example.com"]]},
    {"kind": "person", "name": "Ana", "phones": ["not a phone"]},
    {"kind": "person", "name": "Ana", "phones": [6281234567890]},
    {"kind": "person", "name": 1, "emails": ["a@b.co"]},
    {"kind": "person", "name": "x" * 301, "emails": ["a@b.co"]},
    {"kind": "person", "name": "Ana\u0000", "emails": ["a@b.co"]},
    {"kind": "alien", "name": "Ana", "emails": ["a@b.co"]},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "first_contact_channel": "carrier pigeon"},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "id": "chosen-id"},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "status": "erased"},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "tags": ["x" * 65]},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "tags": [f"t{i}" for i in range(51)]},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "address": {"line1": "x", "city": "y"}},
    {"kind": "person", "name": "Ana", "emails": ["a@b.co"], "address": "Jl. Merdeka 1"},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[str(b)[:50] for b in BAD_BODIES])
async def test_invalid_registrations_are_422(client: httpx.AsyncClient, body: object) -> None:
    problem = assert_problem(await client.post("/customers", json=body, headers=MANAGER), 422)
    assert problem["type"].startswith("/problems/")


async def test_malformed_json_and_wrong_content_types_are_4xx_problems(client: httpx.AsyncClient) -> None:
    json_type, form_type = "application/json", "application/x-www-form-urlencoded"
    for content, content_type in (("{not json", json_type), ('{"kind": "person"', json_type), ("\xff\xfe", json_type),
                                  ("kind=person", form_type), ("", json_type), ("[" * 5000 + "]" * 5000, json_type)):
        response = await client.post("/customers", content=content.encode("utf-8", "surrogateescape"),
                                     headers={**MANAGER, "Content-Type": content_type})
        assert 400 <= response.status_code < 500, (content[:20], response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == response.status_code


async def test_a_body_over_the_size_limit_is_413(client: httpx.AsyncClient) -> None:
    huge = person(notes="x" * 1_100_000)
    assert_problem(await client.post("/customers", json=huge, headers=MANAGER), 413)


async def test_a_streamed_body_over_the_size_limit_is_413(client: httpx.AsyncClient) -> None:
    # No Content-Length: the limit is enforced while the body is read.
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"kind": "person", "name": "Ana", "emails": ["a@b.co"], "notes": "'
        for _ in range(120):
            yield b"x" * 10_000
        yield b'"}'

    response = await client.post("/customers", content=chunks(), headers={**MANAGER,
                                                                          "Content-Type": "application/json"})
    assert_problem(response, 413)


async def test_a_very_long_token_subject_does_not_break_writes(client: httpx.AsyncClient) -> None:
    # The subject is stored as the actor of changes: an identity provider's long subject is not a 500.
    headers = bearer("manager", subject="user-" + "x" * 300)
    customer = await register(client)
    for response in (
        await client.put(f"/customers/{customer['id']}/manager", json={"employee_id": "e"}, headers=headers),
        await client.post("/announcements", json={"title": "t", "body": "b", "channels": ["email"]},
                          headers={**headers, "Idempotency-Key": "k"}),
    ):
        assert response.status_code < 500, response.text
