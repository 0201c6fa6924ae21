"""The embedded default: the same events give the same exact figures on SQLite (no broker: events are
applied through the handlers as the consumer runner does), re-pricing and the detection job included."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from services.analytics.app import create_app
from services.analytics.config import AnalyticsSettings
from services.analytics.tests.conftest import ADMIN, ANALYST, unique
from services.analytics.tests.scenario import EXPECTED_A, EXPECTED_B, figures, scenario
from shared.bus import inbox
from shared.testing.apps import app_client


async def test_exact_figures_on_sqlite(tmp_path: Path) -> None:
    settings = AnalyticsSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}", bus_enabled=False,
                                 detection_enabled=False)
    app = create_app(settings)
    a, b, d = unique("ca-"), unique("cb-"), unique("cd-")
    events = scenario(a, b, d, unique())
    shuffled = events + events[:5]
    random.Random(8).shuffle(shuffled)
    async with app_client(app) as client:
        runtime = app.state.runtime
        for envelope in shuffled:
            handler = runtime.handlers.get(envelope.type, envelope.version)
            async with runtime.db.transaction() as session:
                if await inbox.claim(session, consumer="analytics", event_id=str(envelope.event_id),
                                     event_type=envelope.type):
                    await handler(session, envelope)
        body = (await client.get(f"/profitability/customers/{a}", headers=ANALYST)).json()
        assert figures(body, EXPECTED_A) == EXPECTED_A
        survivor = (await client.get(f"/profitability/customers/{b}", headers=ANALYST)).json()
        assert figures(survivor, EXPECTED_B) == EXPECTED_B
        ranked = (await client.get("/profitability/customers", params={"sort": "revenue"}, headers=ANALYST)).json()
        assert [i["customer_id"] for i in ranked["items"]] == [a, b]  # numeric order, not text order
        response = await client.put("/cost-rates", json={"rates": {"consultation": "150000.01"}}, headers=ADMIN)
        assert response.status_code == 200
        repriced = (await client.get(f"/profitability/customers/{a}", headers=ANALYST)).json()
        assert Decimal(repriced["net_contribution"]) == EXPECTED_A["net_contribution"] - Decimal("0.01")
        assert await app.state.detection_job.tick(force=True)
        assert (await client.get("/rfm", headers=ANALYST)).json()["groups"]
        assert (await client.get("/leaderboard", headers=ANALYST)).status_code == 200
        assert (await client.get("/cohorts", headers=ANALYST)).json()["cohorts"]
