"""No input produces a 500: a few hundred seeded, randomised requests against every route.

Valid requests are mutated (wrong types, nulls, huge numbers, odd unicode, NUL characters, lone
surrogates, nested junk, unknown fields, missing fields), paths get odd ids and query strings get
junk. Whatever the answer, it is below 500, and an error is a problem+json body with its status.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.customers.tests.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SUPPORT,
    grant,
    person,
    register,
    unique_email,
)

pytestmark = pytest.mark.integration

SEED = 20261129
REQUESTS = 480

ODD_STRINGS = [
    "", " ", "\t\n", "x" * 10_000, "😀" * 50, "ñandú", "İstanbul", "\u202eevil", "\u0000", "a\u0000b", "\ud800",
    "\udfff\ud800", "\ufeff", "null", "None", "'; DROP TABLE customer; --", "%", "_", "\\", "%00", "../..", "<b>",
    "0812-3456-7890", "+62", "2026-13-45T25:61:00Z", "2026-01-01T00:00:00", "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00", "1e309", "NaN", "email", "person", "company", "sms", "a@b", "@", "ä@ö.de",
]
ODD_SCALARS: list[Any] = [None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**100, 1e308, -1e-308, 3.14, [], {}]


def odd_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(ODD_STRINGS)
    if roll < 0.75 or depth > 2:
        return rng.choice(ODD_SCALARS)
    if roll < 0.88:
        return [odd_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice([*ODD_STRINGS, "kind", "channel", "a"]): odd_value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def mutate(rng: random.Random, body: Any, depth: int = 0) -> Any:
    """One random change somewhere in ``body`` (sometimes several)."""
    if not isinstance(body, dict | list) or not body or depth > 3 or rng.random() < 0.1:
        return odd_value(rng)
    body = json.loads(json.dumps(body))
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if isinstance(body, dict):
            action = rng.random()
            key = rng.choice(list(body)) if body else None
            if action < 0.15 and key is not None:
                del body[key]
            elif action < 0.25:
                body[rng.choice(ODD_STRINGS)] = odd_value(rng)
            elif key is not None:
                body[key] = mutate(rng, body[key], depth + 1) if rng.random() < 0.4 else odd_value(rng)
        elif isinstance(body, list) and body:
            index = rng.randrange(len(body))
            if rng.random() < 0.3:
                body.append(odd_value(rng))
            else:
                body[index] = mutate(rng, body[index], depth + 1)
    return body


def odd_cursor(rng: random.Random) -> str:
    values = rng.choice([
        {"created_at": rng.choice(ODD_STRINGS), "id": odd_value(rng)},
        {"occurred_at": rng.choice(ODD_STRINGS), "id": odd_value(rng)},
        {"due_at": rng.choice(ODD_STRINGS), "id": odd_value(rng)},
        {"customer_id": odd_value(rng)},
        odd_value(rng),
    ])
    encoded = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return rng.choice([encoded, encoded[:-1], rng.choice(ODD_STRINGS), "=" * 8])


def odd_query(rng: random.Random, names: list[str]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for name in rng.sample([*names, "limit", "cursor", "junk", "limit"], k=rng.randint(0, 4)):
        if name == "cursor":
            value: Any = odd_cursor(rng)
        elif name == "limit":
            value = rng.choice(["0", "1", "200", "201", "-5", "1e3", "ten", str(2**70), "", "3"])
        else:
            value = rng.choice([rng.choice(ODD_STRINGS), str(odd_value(rng))])
        params.append((name, str(value)))
    return params


def odd_id(rng: random.Random, real: list[str]) -> str:
    if rng.random() < 0.4:
        return rng.choice(real)
    return rng.choice(["00000000-0000-0000-0000-000000000000", "x" * 5000, "😀", "a b", "\u0000", "%00",
                       "..", "null", "-1", "%ff%fe", "%ed%a0%80", "\u202e"])


async def test_no_input_produces_a_500(client: httpx.AsyncClient) -> None:
    rng = random.Random(SEED)
    survivor = await register(client, person(segment="retail"))
    await grant(client, survivor["id"], "email", "sms", preferred="email")
    duplicate = await register(client)
    await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=MANAGER)
    erased = await register(client)
    await client.post(f"/customers/{erased['id']}/erase", headers=SUPPORT)
    consultation = (await client.post(f"/customers/{survivor['id']}/consultations", headers=MANAGER, json={
        "topic": "t", "due_at": "2030-01-01T00:00:00Z", "employee_id": "e"})).json()
    announcement = (await client.post("/announcements", headers=MANAGER, json={
        "title": "t", "body": "b", "channels": ["email"]})).json()
    customers = [survivor["id"], duplicate["id"], erased["id"]]

    valid: dict[str, Callable[[], dict[str, Any]]] = {
        "customer": lambda: {**person(emails=[unique_email()], phones=["+62 812 0000 0001"], tags=["a"],
                                      segment="retail", source="fair", first_contact_channel="phone",
                                      notes="n", address={"line1": "l", "city": "c", "country": "ID"}),
                             "kind": rng.choice(["person", "company"])},
        "update": lambda: {"name": "n", "emails": [unique_email()], "segment": "s", "tags": ["t"],
                           "preferred_channel": "email", "tax_id": None, "kind": "person"},
        "merge": lambda: {"duplicate_id": rng.choice(customers)},
        "consents": lambda: {"consents": [{"channel": "email", "granted": True, "source": "s"},
                                          {"channel": "sms", "granted": False, "source": "s"}],
                             "preferred_channel": "email"},
        "manager": lambda: {"employee_id": "emp-1"},
        "interaction": lambda: {"channel": "phone", "direction": "in", "summary": "s", "outcome": "o",
                                "employee_id": "e", "occurred_at": "2026-01-01T00:00:00Z"},
        "consultation": lambda: {"topic": "t", "due_at": "2030-01-01T00:00:00+07:00", "employee_id": "e",
                                 "product_id": "p"},
        "complete": lambda: {"outcome": "o"},
        "announcement": lambda: {"title": "t", "body": "b", "segments": ["retail"], "channels": ["sms", "email"]},
    }
    routes: list[tuple[str, str, str | None, list[str]]] = [
        ("POST", "/customers", "customer", []),
        ("GET", "/customers", None, ["segment", "manager_id", "tag", "q", "created_from", "created_to", "status"]),
        ("GET", "/customers/{c}", None, []),
        ("PATCH", "/customers/{c}", "update", []),
        ("POST", "/customers/{c}/merge", "merge", []),
        ("POST", "/customers/{c}/erase", None, []),
        ("GET", "/customers/{c}/consents", None, []),
        ("PUT", "/customers/{c}/consents", "consents", []),
        ("GET", "/customers/{c}/manager", None, []),
        ("PUT", "/customers/{c}/manager", "manager", []),
        ("POST", "/customers/{c}/interactions", "interaction", []),
        ("GET", "/customers/{c}/interactions", None, []),
        ("POST", "/customers/{c}/consultations", "consultation", []),
        ("GET", "/consultations", None, ["employee_id", "status", "due_before", "customer_id"]),
        ("POST", "/consultations/{k}/complete", "complete", []),
        ("POST", "/announcements", "announcement", []),
        ("GET", "/announcements/{a}", None, []),
        ("GET", "/announcements/{a}/deliveries", None, []),
    ]

    failures: list[str] = []
    statuses: dict[int, int] = {}
    for number in range(REQUESTS):
        method, template, body_kind, query_names = routes[number % len(routes)]
        real = {"c": customers, "k": [consultation["id"]], "a": [announcement["id"]]}
        path = template
        for placeholder, ids in real.items():
            if "{" + placeholder + "}" in path:
                raw = odd_id(rng, ids)
                path = path.replace("{" + placeholder + "}", raw if raw.startswith("%") else quote(raw, safe=""))
        headers = dict(rng.choice([ADMIN, ADMIN, ADMIN, MANAGER, SUPPORT, ANALYST]))
        if template == "/announcements" and rng.random() < 0.5:
            headers["Idempotency-Key"] = rng.choice(["k1", "k2", "x" * 250, "%00"])
        params = odd_query(rng, query_names) if query_names or rng.random() < 0.3 else []
        if params:
            # Encoded by hand: lone surrogates become the invalid UTF-8 bytes a client could send.
            path += "?" + "&".join(f"{quote(k, safe='')}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                                   for k, v in params)
        kwargs: dict[str, Any] = {}
        if method != "GET":
            body = valid[body_kind]() if body_kind else {}
            roll = rng.random()
            if roll < 0.15:
                kwargs["content"] = rng.choice([b"{", b"\xff\xfe\x00", b"[" * 3000, b'{"a":' * 200, b"nul",
                                                json.dumps(body).encode()[: rng.randint(0, 40)]])
                headers["Content-Type"] = "application/json"
            elif roll < 0.9:
                kwargs["content"] = json.dumps(mutate(rng, body), ensure_ascii=rng.random() < 0.5,
                                               allow_nan=True).encode("utf-8", "surrogatepass")
                headers["Content-Type"] = "application/json"
            else:
                kwargs["json"] = body
        sent = kwargs.get("content", kwargs.get("json"))
        try:
            response = await client.request(method, path, headers=headers, **kwargs)
        except Exception as exc:  # the ASGI transport re-raises what the app answered with a 500
            failures.append(f"#{number} {method} {path[:300]} body={sent!r:.300} -> raised {exc!r:.500}")
            continue
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        problem = ""
        if response.status_code >= 500:
            problem = "5xx"
        elif response.status_code >= 400:
            if not response.headers.get("content-type", "").startswith("application/problem+json"):
                problem = "not problem+json"
            elif response.json().get("status") != response.status_code:
                problem = "status field differs"
        if problem:
            failures.append(f"#{number} {method} {path[:300]} body={sent!r:.300} "
                            f"-> {response.status_code} ({problem}) {response.text[:300]}")
    assert not failures, "\n".join(failures)
    # The run exercised successes and refusals alike, and the service is still well.
    assert sum(n for s, n in statuses.items() if s < 300) >= 40, statuses
    assert sum(n for s, n in statuses.items() if s == 422) >= 100, statuses
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get(f"/customers/{survivor['id']}", headers=ANALYST)).status_code == 200
