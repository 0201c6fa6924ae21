"""Every route of every service reached through the gateway (the repository's nginx configuration, run for
real by Debian's nginx on loopback), the docs included, with the request id carried through."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from pelanggan.services import built_services
from tests.e2e.conftest import ADMIN, RunningSystem

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "e2e-missing-id", path)


async def test_the_gateway_answers_its_index_and_redirects_to_the_dashboard(gateway: httpx.AsyncClient) -> None:
    index = await gateway.get("/")
    assert index.status_code == 200 and index.json()["dashboard"] == "/dashboard"
    dashboard = await gateway.get("/dashboard")
    assert dashboard.status_code == 302 and dashboard.headers["location"].endswith("/analytics/dashboard")


@pytest.mark.parametrize("service", [s.name for s in built_services()])
async def test_every_route_of_a_service_is_reached_through_the_gateway(
        gateway: httpx.AsyncClient, running_system: RunningSystem, service: str) -> None:
    assert (await gateway.get(f"/{service}/readyz")).status_code == 200
    docs = await gateway.get(f"/{service}/docs")
    assert docs.status_code == 200 and f"/{service}/openapi.json" in docs.text
    document = (await gateway.get(f"/{service}/openapi.json")).json()
    assert {"url": f"/{service}"} in document["servers"]
    reached = 0
    for path, operations in document["paths"].items():
        for method in operations:
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            request_id = f"gw-{uuid.uuid4()}"
            response = await gateway.request(method.upper(), f"/{service}{_concrete(path)}",
                                             headers={**ADMIN, "X-Request-ID": request_id},
                                             json={} if method in {"post", "put", "patch"} else None)
            # The service answered (not nginx): it echoes the request id, and errors are its problem+json.
            assert response.headers.get("x-request-id") == request_id, (method, path, response.status_code)
            assert response.status_code < 500 and response.status_code != 502, (method, path, response.text[:300])
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith(PROBLEM_JSON), (method, path)
            reached += 1
    assert reached == sum(1 for ops in document["paths"].values() for m in ops if m in {"get", "post", "put",
                                                                                       "patch", "delete"})


async def test_an_unknown_prefix_and_a_forged_host_go_nowhere(gateway: httpx.AsyncClient) -> None:
    unknown = await gateway.get("/billing/customers")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(PROBLEM_JSON)
    response = await gateway.get("/customers/customers/", headers={"Host": "evil.example"})
    assert "location" not in response.headers
