"""Customers service entrypoint: ``uvicorn services.customers.app:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.customers.channels import ChannelAdapter, RecordingAdapter
from services.customers.config import CustomersSettings
from services.customers.handlers import build_handlers
from services.customers.models import StaffMember
from services.customers.router import router
from shared.events.registry import service_topic
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.staff.directory import EmployeeLookup, StaffDirectory
from shared.staff.settings import staff_directory

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: CustomersSettings | None = None, *, channel_adapter: ChannelAdapter | None = None,
               staff_lookup: EmployeeLookup | None = None) -> FastAPI:
    settings = settings or CustomersSettings()
    runtime = ServiceRuntime(settings, migrations_dir=MIGRATIONS, published_topics=[service_topic("customers")],
                             handlers=build_handlers(settings))
    app = create_service_app(
        runtime=runtime, title="Pelanggan customers",
        description="Customer profiles from the first contact: consents, account managers, interactions, "
                    "follow-up consultations and announcements.",
        routers=[router],
    )
    app.state.channel_adapter = channel_adapter or RecordingAdapter()
    app.state.staff = (StaffDirectory(StaffMember, staff_lookup) if staff_lookup
                       else staff_directory(settings, StaffMember))
    return app
