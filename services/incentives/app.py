"""Incentives service entrypoint: ``uvicorn services.incentives.app:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.incentives.config import IncentivesSettings
from services.incentives.handlers import build_handlers
from services.incentives.router import router
from shared.events.registry import service_topic
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IncentivesSettings | None = None) -> FastAPI:
    settings = settings or IncentivesSettings()
    runtime = ServiceRuntime(settings, migrations_dir=MIGRATIONS, published_topics=[service_topic("incentives")],
                             handlers=build_handlers(settings))
    return create_service_app(
        runtime=runtime, title="Pelanggan incentives",
        description="The staff directory, product weights and locomotive products, each employee's weighted "
                    "contribution to the sales plan, bonuses, the gift catalogue, awards and recognition.",
        routers=[router],
    )
