"""Orders service entrypoint: ``uvicorn services.orders.app:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.orders.config import OrdersSettings
from services.orders.customers_client import CustomerDirectory, HttpCustomerDirectory
from services.orders.handlers import handlers
from services.orders.models import StaffMember
from services.orders.router import router
from shared.events.registry import service_topic
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.staff.directory import EmployeeLookup, StaffDirectory
from shared.staff.settings import staff_directory

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: OrdersSettings | None = None, *,
               customer_directory: CustomerDirectory | None = None,
               staff_lookup: EmployeeLookup | None = None) -> FastAPI:
    settings = settings or OrdersSettings()
    runtime = ServiceRuntime(settings, migrations_dir=MIGRATIONS, published_topics=[service_topic("orders")],
                             handlers=handlers)
    app = create_service_app(
        runtime=runtime, title="Pelanggan orders",
        description="The product catalogue, every purchase with its payment, fulfilment, cancellation and "
                    "returns, and the cumulative-discount loyalty program with each customer's ledger.",
        routers=[router],
    )
    app.state.customer_directory = customer_directory or HttpCustomerDirectory(settings)
    app.state.staff = (StaffDirectory(StaffMember, staff_lookup) if staff_lookup
                       else staff_directory(settings, StaffMember))
    return app
