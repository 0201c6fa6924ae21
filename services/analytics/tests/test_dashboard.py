"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Python playwright): against a
running service with data, every chart is drawn with data points, 401 and 403 say so, no console errors.

The screenshots are kept as test artefacts in ``services/analytics/tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.analytics.app import create_app
from services.analytics.tests.conftest import applied, publish, settings_for
from services.analytics.tests.demo import demo_events
from shared.db.types import utcnow
from shared.testing.apps import bearer, served

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHARTS = ("partnerships", "segments", "demand", "cohorts", "rfm", "cases", "leaderboard")


def drive(base_url: str, tokens: dict[str, str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text
                    and "403" not in m.text else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base_url}/dashboard")
            page.wait_for_selector("#token-form", state="visible")

            def sign_in(token: str, state: str) -> str:
                page.fill("#token", token)
                page.click("#token-form button[type=submit]")
                page.wait_for_function(f"window.dashboardState === '{state}'", timeout=60_000)
                return page.inner_text("#message")

            refused = sign_in("not-a-token", "signed-out")
            forbidden = sign_in(tokens["support"], "signed-out")
            sign_in(tokens["analyst"], "ready")
            page.wait_for_timeout(1500)  # animations
            drawn = page.evaluate("""(ids) => Object.fromEntries(ids.map((id) => {
                const canvas = document.querySelector('#' + id + ' canvas');
                const chart = window.pelangganCharts[id];
                const points = chart.getOption().series.reduce((n, s) => n + (s.data || []).length, 0);
                let inked = 0;
                if (canvas) {
                    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                    for (let i = 3; i < pixels.length; i += 4 * 16) if (pixels[i] > 0) inked++;
                }
                return [id, {canvas: !!canvas, width: canvas ? canvas.width : 0, points, inked}];
            }))""", list(CHARTS))
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            tablet = browser.new_page(viewport={"width": 820, "height": 1180}, is_mobile=True, has_touch=True)
            tablet.on("pageerror", lambda e: errors.append(str(e)))
            tablet.goto(f"{base_url}/dashboard")
            tablet.fill("#token", tokens["analyst"])
            tablet.click("#token-form button[type=submit]")
            tablet.wait_for_function("window.dashboardState === 'ready'", timeout=60_000)
            tablet.wait_for_timeout(1000)
            tablet_widths = tablet.evaluate("""(ids) => ids.map((id) => {
                const c = document.querySelector('#' + id + ' canvas');
                return c ? c.getBoundingClientRect().width : 0; })""", list(CHARTS))
            tablet.screenshot(path=str(ARTIFACTS / "dashboard-tablet.png"), full_page=True)
        finally:
            browser.close()
    return {"refused": refused, "forbidden": forbidden, "drawn": drawn, "errors": errors,
            "tablet_widths": tablet_widths}


async def test_the_dashboard_draws_every_chart(database_url: str, topics: str, producer: AIOKafkaProducer) -> None:
    assert shutil.which(CHROMIUM), "Debian's chromium is needed (.ci/run installs it: apt-get install chromium)"
    app = create_app(settings_for(database_url, topics))
    async with served(app) as base_url:
        events = demo_events(utcnow())
        await publish(producer, events)
        await applied(app, events, timeout=180)
        assert await app.state.detection_job.tick(force=True)
        tokens = {"analyst": bearer("analyst", "ana-1")["Authorization"][7:],
                  "support": bearer("support", "sup-1")["Authorization"][7:]}
        result = await asyncio.to_thread(drive, base_url, tokens)
    assert "401" in result["refused"]
    assert "403" in result["forbidden"]
    for name, drawn in result["drawn"].items():
        assert drawn["canvas"] and drawn["width"] > 100, name
        assert drawn["points"] > 0, name
        assert drawn["inked"] > 50, name
    assert all(width > 300 for width in result["tablet_widths"]), result["tablet_widths"]
    assert result["errors"] == []
