"""Feedback service entrypoint: ``uvicorn services.feedback.app:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.orm import Session

from services.feedback.breach_detector import BreachDetector, instance_name
from services.feedback.config import FeedbackSettings
from services.feedback.directory import HttpOwnerDirectory, OwnerDirectory
from services.feedback.handlers import handlers
from services.feedback.models import EmployeeReplica
from services.feedback.router import router
from services.feedback.use_cases.sla import DEADLINE_KEY
from shared.events.registry import service_topic
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.staff.directory import EmployeeLookup, StaffDirectory
from shared.staff.settings import staff_directory

MIGRATIONS = Path(__file__).parent / "migrations"


def _wake_on_new_deadlines(runtime: ServiceRuntime, detector: BreachDetector) -> None:
    """After a commit that set a deadline, the detector re-plans its sleep (it may be earlier)."""

    @event.listens_for(runtime.db.sync_session_class, "after_commit")
    def _after_commit(session: Session) -> None:
        deadline = session.info.pop(DEADLINE_KEY, None)
        if deadline is not None:
            detector.notify(deadline)

    @event.listens_for(runtime.db.sync_session_class, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(DEADLINE_KEY, None)


def create_app(settings: FeedbackSettings | None = None, *, owner_directory: OwnerDirectory | None = None,
               staff_lookup: EmployeeLookup | None = None) -> FastAPI:
    settings = settings or FeedbackSettings()
    runtime = ServiceRuntime(settings, migrations_dir=MIGRATIONS, published_topics=[service_topic("feedback")],
                             handlers=handlers)
    detector = BreachDetector(runtime.db, instance=instance_name(settings.service_name),
                              max_sleep_seconds=settings.breach_check_max_seconds,
                              batch_size=settings.breach_batch_size)
    if settings.breach_detector_enabled:
        runtime.add_background("sla-breach-detector", detector.run_forever)
    _wake_on_new_deadlines(runtime, detector)
    app = create_service_app(
        runtime=runtime, title="Pelanggan feedback",
        description="Every complaint, claim, objection, suggestion and comment, answered against SLAs in working "
                    "time; the company's service-quality standards, their versions and staff acknowledgements.",
        routers=[router],
    )
    app.state.owner_directory = owner_directory or HttpOwnerDirectory(settings)
    app.state.staff = (StaffDirectory(EmployeeReplica.__table__, staff_lookup) if staff_lookup
                       else staff_directory(settings, EmployeeReplica.__table__))
    app.state.breach_detector = detector
    return app
