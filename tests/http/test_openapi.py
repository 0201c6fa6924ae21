"""The published contracts: every problem a route gives is documented, as problem+json, in every service."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from shared.http.errors import PROBLEM_JSON
from shared.testing.infra import PostgresServer
from tests.http.conftest import (
    ADMIN,
    ANALYST,
    MANAGER,
    SUPPORT,
    built_services,
    person,
    product,
    service_app,
)

OPERATIONS = {"/healthz", "/readyz", "/metrics", "/openapi.json"}  # the readiness report is its own document
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module", params=built_services())
def document(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Building the document needs no database: a SQLite URL that is never opened.
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('openapi') / 'never-opened.db'}"
    return service_app(request.param, url).openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS and path not in OPERATIONS:
                yield path, method, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_error_response_is_problem_json(document: dict[str, Any]) -> None:
    seen = 0
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                seen += 1
                assert set(response.get("content", {})) == {PROBLEM_JSON}, (method, path, status, response)
                assert response["content"][PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert seen
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["properties"]["status"]["type"] == "integer"


def test_what_follows_from_a_route_shape_is_documented(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        assert "503" in responses and "Retry-After" in responses["503"]["headers"], where
        if operation.get("security"):
            assert {"401", "403"} <= responses.keys(), where
        if "requestBody" in operation:
            assert {"413", "422"} <= responses.keys(), where
        if operation.get("parameters"):
            assert "422" in responses, where


def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


# ----- what the services really answer is documented -------------------------------------------

class StatusRecorder:
    """Records (method, path, status) of every answer the app gives, also those given before routing (413)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.seen: set[tuple[str, str, int]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, recording_send)
        if scope["type"] == "http":
            self.seen.add((scope["method"].lower(), scope["path"], status))


@pytest.fixture
async def recorded(postgres: PostgresServer) -> AsyncIterator[dict[str, tuple[httpx.AsyncClient, StatusRecorder]]]:
    """The customers and orders apps (lifespan running), each behind a recorder of its answers."""
    clients: dict[str, tuple[httpx.AsyncClient, StatusRecorder]] = {}
    async with AsyncExitStack() as stack:
        for name in ("customers", "orders"):
            app = service_app(name, postgres.async_url(await postgres.create_database(prefix=f"d{name[:3]}")))
            await stack.enter_async_context(app.router.lifespan_context(app))
            recorder = StatusRecorder(app)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=recorder), base_url="http://t"))
            clients[name] = (client, recorder)
        yield clients


async def _customers_sample(client: httpx.AsyncClient) -> None:
    unknown = str(uuid.uuid4())
    body = person()
    await client.post("/customers", json=body)  # 401
    await client.post("/customers", json=body, headers=ANALYST)  # 403
    first = (await client.post("/customers", json=body, headers=MANAGER)).json()  # 201
    await client.post("/customers", json=body, headers=MANAGER)  # 409: the same e-mail
    await client.post("/customers", json={"kind": "robot"}, headers=MANAGER)  # 422
    await client.post("/customers", json=person(notes="n" * 1_100_000), headers=MANAGER)  # 413
    await client.get(f"/customers/{unknown}", headers=ANALYST)  # 404
    await client.get("/customers", params={"created_to": "0.5"}, headers=ANALYST)  # 422
    second = (await client.post("/customers", json=person(), headers=MANAGER)).json()
    await client.post(f"/customers/{first['id']}/merge", json={"duplicate_id": second["id"]}, headers=MANAGER)
    await client.patch(f"/customers/{second['id']}", json={"name": "merged away"}, headers=MANAGER)  # 409
    await client.post(f"/customers/{first['id']}/erase", headers=SUPPORT)  # 200
    await client.patch(f"/customers/{first['id']}", json={"name": "erased"}, headers=MANAGER)  # 410
    await client.put(f"/customers/{first['id']}/consents", headers=SUPPORT,
                     json={"consents": [{"channel": "email", "granted": True, "source": "form"}]})  # 410
    await client.post(f"/consultations/{unknown}/complete", json={"outcome": "done"}, headers=MANAGER)  # 404
    await client.get(f"/announcements/{unknown}", headers=ANALYST)  # 404


async def _orders_sample(client: httpx.AsyncClient) -> None:
    unknown = str(uuid.uuid4())
    item = product()
    await client.post("/products", json=item)  # 401
    await client.post("/products", json=item, headers=SUPPORT)  # 403
    await client.post("/products", json=item, headers=MANAGER)  # 201
    await client.post("/products", json=item, headers=MANAGER)  # 409: the same sku
    await client.post("/products", json=product(unit_price="1e3"), headers=MANAGER)  # 422
    await client.post("/products", json=product(name="n" * 1_100_000), headers=MANAGER)  # 413
    await client.get(f"/products/{unknown}", headers=ANALYST)  # 404
    await client.post(f"/orders/{unknown}/pay", headers=MANAGER)  # 404
    await client.put("/loyalty/program", json={"tiers": []}, headers=MANAGER)  # 403
    await client.put("/loyalty/program", json={"tiers": []}, headers=ADMIN)  # 422
    await client.get(f"/loyalty/customers/{unknown}", headers=ANALYST)  # 404
    # No customers service answers here: the order cannot be checked, a documented 503.
    await client.post("/orders", headers=MANAGER, json={"customer_id": unknown, "channel": "store",
                                                         "sales_employee_id": "emp-1",
                                                         "lines": [{"product_id": "p-1", "quantity": 1}]})


@pytest.mark.integration
async def test_the_statuses_the_services_answer_are_documented(
        recorded: dict[str, tuple[httpx.AsyncClient, StatusRecorder]]) -> None:
    await _customers_sample(recorded["customers"][0])
    await _orders_sample(recorded["orders"][0])
    for name, (client, recorder) in recorded.items():
        document = (await client.get("/openapi.json")).json()
        statuses = {status for _, _, status in recorder.seen}
        assert {401, 403, 404, 409, 413, 422} <= statuses, (name, statuses)  # the sample did provoke them
        undocumented = [(method, path, status) for method, path, status in recorder.seen
                        if path not in OPERATIONS and str(status) not in documented(document, method, path)]
        assert not undocumented, (name, undocumented)
    assert any(status == 410 for _, _, status in recorded["customers"][1].seen)
    assert ("post", "/orders", 503) in recorded["orders"][1].seen


def documented(document: dict[str, Any], method: str, path: str) -> set[str]:
    """The statuses documented for the route that serves ``path``."""
    for template, item in document["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path) and method in item:
            return set(item[method]["responses"])
    raise AssertionError(f"no documented route serves {method.upper()} {path}")
