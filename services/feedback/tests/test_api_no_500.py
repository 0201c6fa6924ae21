"""No input produces a 500, and a refused request writes nothing: seeded, randomised requests
against every route (mutated valid bodies, junk JSON, odd ids, junk query strings), reusing the
customers service's mutators."""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from services.customers.tests.test_api_no_500 import mutate, odd_id, odd_query
from services.feedback.models import Case, CaseActivity, CaseResponse, Category, Standard
from services.feedback.tests.conftest import (
    ADMIN,
    ALWAYS,
    ANALYST,
    MANAGER,
    SUPPORT,
    FakeOwners,
    case_body,
    open_case,
    resolve,
)
from services.feedback.tests.test_sla_breach import policy

pytestmark = pytest.mark.integration

SEED = 20261202
REQUESTS = 420


async def counts(client: httpx.AsyncClient) -> dict[str, int]:
    async with client._transport.app.state.runtime.db.transaction() as session:  # type: ignore[attr-defined]
        return {t.__tablename__: await session.scalar(select(func.count()).select_from(t)) or 0
                for t in (Case, CaseActivity, CaseResponse, Category, Standard)}


async def test_no_input_produces_a_500_and_refusals_write_nothing(client: httpx.AsyncClient,
                                                                  owners: FakeOwners) -> None:
    rng = random.Random(SEED)
    customer = owners.customer_()
    order = owners.order_(customer, "prd-z1", "prd-z2")
    open_one = await open_case(client, customer)
    resolved = await open_case(client, customer, assignee_id="emp-1")
    await resolve(client, resolved["id"])
    category = (await client.post("/categories", json={"name": "Fuzz"}, headers=MANAGER)).json()
    standard = (await client.post("/standards", json={"kind": "memo", "title": "t", "owner_id": "o", "body": "b"},
                                  headers=MANAGER)).json()
    ids = {"c": [open_one["id"], resolved["id"]], "k": [category["id"]], "s": [standard["id"]]}

    valid: dict[str, Any] = {
        "case": lambda: case_body(customer, kind=rng.choice(["claim", "complaint"]), order_id=order, line_nos=[1],
                                  product_id="prd-z1", tags=["t"], priority="high", category_id=category["id"],
                                  employee_id="e", assignee_id="a"),
        "assign": lambda: {"assignee_id": "emp-2"},
        "response": lambda: {"kind": rng.choice(["reply", "note", "customer_message"]), "body": "b",
                             "channel": "email", "cited_standard_id": standard["id"], "cited_standard_version": 1},
        "resolve": lambda: {"outcome": "upheld", "text": "t", "compensation": "refund",
                            "compensation_amount": "10.50", "currency": "IDR"},
        "rating": lambda: {"rating": 4, "comment": "c"},
        "category": lambda: {"name": "n", "parent_id": category["id"]},
        "category_patch": lambda: {"name": "n2", "parent_id": None, "retired": False},
        "policy": lambda: policy(60, 120),
        "calendar": lambda: {"time_zone": "Asia/Jakarta", "week": ALWAYS, "holidays": [{"date": "2026-12-31"}],
                             "country": "ID"},
        "standard": lambda: {"kind": "memo", "title": "t", "owner_id": "o", "required_roles": ["support"],
                             "body": "b", "effective_from": "2026-01-01T00:00:00+07:00"},
        "version": lambda: {"body": "b", "title": "t", "change_note": "n",
                            "effective_from": "2030-01-01T00:00:00Z"},
        "ack": lambda: {"employee_id": "e", "version": 1},
        "empty": lambda: {},
    }
    routes: list[tuple[str, str, str | None, list[str]]] = [
        ("POST", "/cases", "case", []),
        ("GET", "/cases", None, ["kind", "status", "category_id", "priority", "assignee_id", "customer_id",
                                 "order_id", "product_id", "sla_state", "created_from", "created_to"]),
        ("GET", "/cases/stats", None, ["from", "to"]),
        ("GET", "/cases/{c}", None, []),
        ("POST", "/cases/{c}/assign", "assign", []),
        ("POST", "/cases/{c}/start", "empty", []),
        ("POST", "/cases/{c}/responses", "response", []),
        ("POST", "/cases/{c}/wait", "empty", []),
        ("POST", "/cases/{c}/resume", "empty", []),
        ("POST", "/cases/{c}/resolve", "resolve", []),
        ("POST", "/cases/{c}/reopen", "empty", []),
        ("POST", "/cases/{c}/close", "empty", []),
        ("POST", "/cases/{c}/rating", "rating", []),
        ("GET", "/categories", None, ["include_retired"]),
        ("POST", "/categories", "category", []),
        ("PATCH", "/categories/{k}", "category_patch", []),
        ("GET", "/sla-policies", None, []),
        ("PUT", "/sla-policies", "policy", []),
        ("GET", "/calendar", None, []),
        ("PUT", "/calendar", "calendar", []),
        ("POST", "/standards", "standard", []),
        ("GET", "/standards", None, ["kind"]),
        ("GET", "/standards/{s}", None, []),
        ("POST", "/standards/{s}/versions", "version", []),
        ("GET", "/standards/{s}/versions/1", None, []),
        ("POST", "/standards/{s}/acknowledgements", "ack", []),
        ("GET", "/standards/{s}/acknowledgements", None, []),
        ("GET", "/standards/{s}/citations", None, []),
    ]
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for number in range(REQUESTS):
        method, template, body_kind, query_names = routes[number % len(routes)]
        path = template
        for placeholder, real in ids.items():
            if "{" + placeholder + "}" in path:
                raw = odd_id(rng, real)
                path = path.replace("{" + placeholder + "}", raw if raw.startswith("%") else quote(raw, safe=""))
        headers = dict(rng.choice([ADMIN, ADMIN, MANAGER, SUPPORT, ANALYST]))
        if template == "/cases" and method == "POST" and rng.random() < 0.4:
            headers["Idempotency-Key"] = rng.choice(["k1", "k2", "x" * 250])
        params = odd_query(rng, query_names) if query_names or rng.random() < 0.3 else []
        if params:
            path += "?" + "&".join(f"{quote(k, safe='')}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                                   for k, v in params)
        kwargs: dict[str, Any] = {}
        mutated = False
        if method != "GET":
            body = valid[body_kind]() if body_kind else {}
            roll = rng.random()
            if roll < 0.15:
                kwargs["content"] = rng.choice([b"{", b"\xff\xfe\x00", b"[" * 3000, b'{"a":' * 200, b"nul"])
                headers["Content-Type"] = "application/json"
                mutated = True
            elif roll < 0.9:
                kwargs["content"] = json.dumps(mutate(rng, body), ensure_ascii=rng.random() < 0.5,
                                               allow_nan=True).encode("utf-8", "surrogatepass")
                headers["Content-Type"] = "application/json"
                mutated = True
            else:
                kwargs["json"] = body
        before = await counts(client) if mutated else None
        try:
            response = await client.request(method, path, headers=headers, **kwargs)
        except Exception as exc:  # the ASGI transport re-raises what the app answered with a 500
            failures.append(f"#{number} {method} {path[:200]} -> raised {exc!r:.400}")
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
            elif before is not None and await counts(client) != before:
                problem = "a refused request wrote rows"
        if problem:
            sent = kwargs.get("content", kwargs.get("json"))
            failures.append(f"#{number} {method} {path[:200]} body={sent!r:.300} -> {response.status_code} "
                            f"({problem}) {response.text[:300]}")
    assert not failures, "\n".join(failures)
    assert sum(n for s, n in statuses.items() if s < 300) >= 60, statuses
    assert sum(n for s, n in statuses.items() if s == 422) >= 150, statuses
    assert (await client.get("/healthz")).status_code == 200
