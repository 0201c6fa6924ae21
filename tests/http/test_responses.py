"""``json_response`` sends exactly the bytes FastAPI sends for the route's response model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from shared.events.types import DecimalString
from shared.http.pagination import Page
from shared.http.responses import json_response


class Line(BaseModel):
    amount: DecimalString
    at: datetime
    note: str | None
    tags: list[str]
    flags: dict[str, bool]


Lines = Page[Line]
ITEMS = [{"amount": Decimal("1250.50"), "at": datetime(2026, 3, 1, 13, 30, tzinfo=UTC), "note": None,
          "tags": ["b", "a"], "flags": {"email": True}},
         {"amount": Decimal("1E+2"), "at": datetime(2026, 3, 1, 5, 30, tzinfo=timezone(timedelta(hours=-8))),
          "note": "é \"quoted\"", "tags": [], "flags": {}}]


async def test_the_bytes_and_headers_are_fastapis() -> None:
    app = FastAPI()

    @app.get("/validated", response_model=Lines)
    async def validated() -> Lines:
        return Lines(items=[Line(**item) for item in ITEMS], next_cursor="abc")

    @app.get("/direct", response_model=Lines)
    async def direct():  # type: ignore[no-untyped-def]
        return json_response(Lines.model_validate({"items": ITEMS, "next_cursor": "abc"}))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        slow, fast = await client.get("/validated"), await client.get("/direct")
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    assert '"amount":"100"' in fast.text  # a plain decimal string, never exponent notation
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == slow.headers["content-length"]
    # The OpenAPI document still shows the response model.
    def schema(path: str) -> dict:
        return app.openapi()["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    assert schema("/direct") == schema("/validated")
