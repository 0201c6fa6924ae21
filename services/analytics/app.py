"""Analytics service entrypoint: ``uvicorn services.analytics.app:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.analytics.config import AnalyticsSettings
from services.analytics.handlers import build_handlers
from services.analytics.jobs import DetectionJob
from services.analytics.router import router
from shared.events.registry import service_topic
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    settings = settings or AnalyticsSettings()
    runtime = ServiceRuntime(
        settings,
        migrations_dir=MIGRATIONS,
        published_topics=[service_topic("analytics")],
        handlers=build_handlers(settings.zone),
    )
    job = DetectionJob(runtime.db, settings)
    if settings.detection_enabled:
        runtime.add_background("analytics-detection", job.run_forever)
    app = create_service_app(
        runtime=runtime,
        title="Pelanggan analytics",
        description="Profitability of every partnership after the cost of serving it, customer lifetime value, "
        "RFM groups, cohorts, segment demand trends found in time, and the managers' dashboard. "
        "Read models kept from every service's events.",
        routers=[router],
    )
    app.state.detection_job = job
    return app
