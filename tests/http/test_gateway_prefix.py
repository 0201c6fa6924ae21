"""Behind the gateway a service's URLs carry the prefix the gateway stripped (X-Forwarded-Prefix)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.customers.app import create_app
from services.customers.config import CustomersSettings
from shared.testing.apps import bearer


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(CustomersSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", bus_enabled=False))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            yield http


PREFIX = {"X-Forwarded-Prefix": "/customers"}


async def test_the_docs_load_the_document_through_the_prefix(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs", headers=PREFIX)
    assert docs.status_code == 200 and "/customers/openapi.json" in docs.text
    document = (await client.get("/openapi.json", headers=PREFIX)).json()
    assert {"url": "/customers"} in document["servers"]


async def test_routes_still_match_when_the_prefix_equals_a_resource_name(client: httpx.AsyncClient) -> None:
    response = await client.get("/customers/no-such-id", headers={**PREFIX, **bearer("manager")})
    assert response.status_code == 404
    assert response.json()["instance"] == "/customers/customers/no-such-id"
    direct = await client.get("/customers/no-such-id", headers=bearer("manager"))
    assert direct.status_code == 404 and direct.json()["instance"] == "/customers/no-such-id"


@pytest.mark.parametrize("forged", ["//evil.example", "/Customers", "/a/b", "https://evil.example", "/" + "x" * 40])
async def test_a_forged_prefix_is_ignored(client: httpx.AsyncClient, forged: str) -> None:
    document = (await client.get("/openapi.json", headers={"X-Forwarded-Prefix": forged})).json()
    assert "servers" not in document or all(s["url"] != forged for s in document["servers"])
    assert (await client.get("/healthz", headers={"X-Forwarded-Prefix": forged})).status_code == 200
