"""Fixtures of the HTTP tests: the built services' real apps over PostgreSQL, without the broker.

The shared HTTP mechanism is tested through the services that use it (a fix there reaches the
services still to be written); the bus plays no part here, so it is switched off.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.config import REPO_ROOT
from shared.testing.apps import app_client, bearer
from shared.testing.infra import PostgresServer

PROBLEM_JSON = "application/problem+json"
MANAGER = bearer("manager", subject="mgr-http")
SUPPORT = bearer("support", subject="sup-http")
ANALYST = bearer("analyst", subject="ana-http")
ADMIN = bearer("admin", subject="adm-http")


def built_services() -> list[str]:
    """Every service with an app, found on disk: a service written later is covered without a change here."""
    return sorted(path.parent.name for path in Path(REPO_ROOT, "services").glob("*/app.py"))


def service_app(name: str, database_url: str, **overrides: Any) -> FastAPI:
    """The service's own ``create_app`` with its own settings class, the bus switched off."""
    app_module = importlib.import_module(f"services.{name}.app")
    config = importlib.import_module(f"services.{name}.config")
    settings_class = next(value for key, value in vars(config).items()
                          if key.endswith("Settings") and getattr(value, "__module__", "") == config.__name__)
    return app_module.create_app(settings_class(database_url=database_url, bus_enabled=False, **overrides))


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


async def _client_of(name: str, postgres: PostgresServer) -> AsyncIterator[httpx.AsyncClient]:
    database_url = postgres.async_url(await postgres.create_database(prefix=f"h{name[:3]}"))
    async with app_client(service_app(name, database_url)) as client:
        yield client


@pytest.fixture(scope="module")
async def customers(postgres: PostgresServer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client_of("customers", postgres):
        yield client


@pytest.fixture(scope="module")
async def orders(postgres: PostgresServer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client_of("orders", postgres):
        yield client


def person(**overrides: Any) -> dict[str, Any]:
    return {"kind": "person", "name": "Ana Wijaya", "emails": [f"{unique('c')}@example.com"], **overrides}


def product(**overrides: Any) -> dict[str, Any]:
    return {"sku": unique("SKU-"), "name": "Kertas HVS A4", "category": "paper", "unit_price": "45000.50",
            "unit_cost": "30250.25", **overrides}


def nested(depth: int) -> Any:
    """JSON ``depth`` containers deep."""
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value
