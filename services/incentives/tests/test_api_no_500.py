"""No input produces a 500: seeded, randomised requests against every route of the incentives API.

Valid bodies are mutated (wrong types, nulls, huge numbers, exponent notation, odd unicode, NUL
characters, lone surrogates, unknown and missing fields), paths get odd ids and periods, queries
junk and forged cursors. Whatever the answer, it is below 500, and an error is problem+json.
The mutation helpers are the customers service's, so every service is fuzzed the same way.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.customers.tests.test_api_no_500 import mutate, odd_id, odd_query
from services.incentives.tests.conftest import ADMIN, ANALYST, MANAGER, SUPPORT, fresh_year, hire, unique
from services.incentives.tests.test_api import POLICY

pytestmark = pytest.mark.integration

SEED = 20261202
REQUESTS = 480
ODD_PERIODS = ["2026-03", "2026-13", "2026-00", "0000-01", "9999-12", "1-1", "2026-3",
               "\uff12\uff10\uff12\uff16-03", "2026-03%0A",
               "%00", "x" * 300, "2026-03-01", "..", "1900-01"]


async def test_no_input_produces_a_500(client: httpx.AsyncClient) -> None:
    rng = random.Random(SEED)
    year = fresh_year()
    employee = await hire(client)
    gift = (await client.post("/gifts", json={"name": "Air fryer", "category": "household_appliances",
                                              "value": "1000000"}, headers=MANAGER)).json()
    employees = [employee["id"]]
    products = [unique("prod-")]
    gifts = [gift["id"]]

    valid: dict[str, Callable[[], dict[str, Any]]] = {
        "employee": lambda: {"name": "Dewi", "role": rng.choice(["sales", "head"]), "team": "t",
                             "email": f"{unique()}@x.example", "hired_on": "2024-01-01", "active": True},
        "employee_update": lambda: {"team": "u", "left_on": None, "active": rng.choice([True, False]),
                                    "role": "support"},
        "weight": lambda: {"weight": "1.5", "locomotive": True, "effective_from": f"{year}-01-01"},
        "plan": lambda: {"company_target_points": "1000", "company_category_targets": {"a": "1"},
                         "employees": [{"employee_id": rng.choice(employees), "target_points": "10",
                                        "category_targets": {"a": "1"}}]},
        "policy": lambda: {**POLICY, "effective_from": f"{year}-0{rng.randint(1, 9)}"},
        "gift": lambda: {"name": "Voucher", "category": "gift_certificates", "value": "100000",
                         "description": "for goods"},
        "gift_update": lambda: {"name": "Voucher 2", "active": True},
        "award": lambda: {"employee_id": rng.choice(employees), "period": f"{year}-02",
                          "kind": "recognition", "title": "t", "citation": "c"},
    }
    routes: list[tuple[str, str, str | None, list[str]]] = [
        ("POST", "/employees", "employee", []),
        ("GET", "/employees", None, ["role", "team", "active"]),
        ("GET", "/employees/{e}", None, []),
        ("PATCH", "/employees/{e}", "employee_update", []),
        ("GET", "/products", None, ["category", "locomotive"]),
        ("PUT", "/products/{p}/weight", "weight", []),
        ("GET", "/products/{p}/weights", None, []),
        ("PUT", "/plans/{period}", "plan", []),
        ("GET", "/plans/{period}", None, []),
        ("GET", "/periods/{period}/contributions", None, []),
        ("GET", "/periods/{period}/lines", None, ["employee_id"]),
        ("GET", "/leaderboard", None, ["period"]),
        ("POST", "/periods/{period}/close", None, []),
        ("GET", "/bonus-policy", None, ["period"]),
        ("GET", "/bonus-policy/versions", None, []),
        ("PUT", "/bonus-policy", "policy", []),
        ("POST", "/gifts", "gift", []),
        ("GET", "/gifts", None, ["category", "active"]),
        ("GET", "/gifts/{g}", None, []),
        ("PATCH", "/gifts/{g}", "gift_update", []),
        ("POST", "/awards", "award", []),
        ("GET", "/awards", None, ["period", "employee_id", "kind"]),
        ("GET", "/recognitions", None, ["period"]),
    ]

    failures: list[str] = []
    statuses: dict[int, int] = {}
    for number in range(REQUESTS):
        method, template, body_kind, query_names = routes[number % len(routes)]
        path = template
        for placeholder, ids in {"e": employees, "p": products, "g": gifts}.items():
            if "{" + placeholder + "}" in path:
                raw = odd_id(rng, ids)
                path = path.replace("{" + placeholder + "}", raw if raw.startswith("%") else quote(raw, safe=""))
        if "{period}" in path:
            raw = rng.choice([f"{year}-0{rng.randint(1, 9)}", *ODD_PERIODS])
            path = path.replace("{period}", raw if "%" in raw else quote(raw, safe=""))
        headers = dict(rng.choice([ADMIN, ADMIN, ADMIN, MANAGER, SUPPORT, ANALYST]))
        if template == "/awards" and method == "POST" and rng.random() < 0.5:
            headers["Idempotency-Key"] = rng.choice(["k1", "k2", "x" * 250, "%00"])
        params = odd_query(rng, query_names) if query_names or rng.random() < 0.3 else []
        if params:
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
    assert sum(n for s, n in statuses.items() if s < 300) >= 40, statuses
    assert sum(n for s, n in statuses.items() if s == 422) >= 100, statuses
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get(f"/employees/{employee['id']}", headers=ANALYST)).status_code == 200
