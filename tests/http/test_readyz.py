"""/readyz over HTTP: ready while the broker is away (degraded, 200), codes only, no exception text."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.customers.app import create_app
from services.customers.config import CustomersSettings
from shared.testing.apps import free_port


async def test_readiness_is_served_flat_and_the_broker_outage_is_degraded(tmp_path: Path) -> None:
    settings = CustomersSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
                                 kafka_bootstrap=f"127.0.0.1:{free_port()}")  # nothing listens there
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
    assert body["checks"]["broker"] == "unreachable"
    assert "Error" not in response.text and "(" not in response.text  # no exception reprs
