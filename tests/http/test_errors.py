"""Errors become problem+json: a value the database refuses is the client's 422, a bug is a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from shared.db.engine import Database
from shared.http.errors import Conflict, install_error_handlers

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE note (body varchar(3), n bigint)"))
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/notes")
    async def add(body: str | None = None, n: int | None = None) -> dict[str, str]:
        async with db.transaction() as session:
            await session.execute(sa.text("INSERT INTO note (body, n) VALUES (:b, :n)"), {"b": body, "n": n})
        return {"ok": "stored"}

    @app.post("/broken")
    async def broken() -> None:
        async with db.transaction() as session:
            await session.execute(sa.text("SELECT * FROM no_such_table"))

    @app.post("/conflict")
    async def conflict() -> None:
        raise Conflict("already there", existing_id="e-1")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://t") as http:
        yield http
    await db.dispose()


@pytest.mark.parametrize("params", [{"body": "too long"}, {"body": "a\x00"}, {"n": str(2**70)}])
async def test_values_the_database_refuses_are_422(client: httpx.AsyncClient, params: dict) -> None:
    response = await client.post("/notes", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unstorable-value"


async def test_other_database_errors_stay_500s(client: httpx.AsyncClient) -> None:
    response = await client.post("/broken")
    assert response.status_code == 500
    assert response.json()["title"] == "Internal error"


async def test_domain_errors_carry_their_extensions(client: httpx.AsyncClient) -> None:
    response = await client.post("/conflict")
    assert response.status_code == 409
    assert response.json() == {"type": "/problems/conflict", "title": "Conflict", "status": 409,
                                "detail": "already there", "instance": "/conflict", "existing_id": "e-1"}


def test_extensions_may_not_overwrite_standard_members() -> None:
    with pytest.raises(ValueError, match="status"):
        Conflict("x", status="paid")
