"""Employee ids checked against a replica of the staff directory, with incentives as the fallback.

Incentives owns the directory and publishes ``incentives.employee.hired|updated|left`` (a full
snapshot with the employee's change count, ``revision``). A service that is given employee ids
(customers: managers; orders: the sales employee; feedback: assignees, employees involved) keeps
the snapshots in a table of its own (:func:`replica_table`) through :func:`register_handlers`, and
checks each id with :meth:`StaffDirectory.require` before its write transaction:

- known and active: fine;
- known and departed: 422 problem+json naming the employee and the day they left (no new work for
  someone who left; their history stays);
- not in the replica (hired a moment ago, the event still on its way): incentives is asked
  (``GET /employees/{id}`` through the shared :class:`~shared.clients.owner_lookup.OwnerClient`),
  outside any transaction, and the answer kept in the replica; incentives says there is no such
  employee: 422; incentives down or unsure: 503 with Retry-After.

The newest snapshot wins by ``revision`` (the clocks of several incentives replicas may differ), or
by the instant of the news where a revision is missing, so events may arrive in any order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.handlers import HandlerRegistry
from shared.clients.owner_lookup import OwnerClient, OwnerResource
from shared.db.dialect import insert_for
from shared.db.types import UTCDateTime, utcnow
from shared.events.contracts import incentives as employee_events
from shared.events.envelope import EventEnvelope
from shared.http.errors import Unprocessable

log = logging.getLogger(__name__)

TABLE_NAME = "staff_member"
EMPLOYEE_EVENTS = ("incentives.employee.hired", "incentives.employee.updated", "incentives.employee.left")


def replica_table(metadata: sa.MetaData) -> sa.Table:
    """The replica's table, declared on a service's own metadata (its migration creates it)."""
    return sa.Table(
        TABLE_NAME, metadata,
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("team", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("hired_on", sa.Date, nullable=True),
        sa.Column("left_on", sa.Date, nullable=True),
        sa.Column("revision", sa.Integer, nullable=True),
        sa.Column("state_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def create_replica_table(op: Any) -> None:
    """For a service's Alembic migration: the same table as :func:`replica_table`."""
    op.create_table(
        TABLE_NAME,
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("team", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("hired_on", sa.Date, nullable=True),
        sa.Column("left_on", sa.Date, nullable=True),
        sa.Column("revision", sa.Integer, nullable=True),
        sa.Column("state_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name=f"pk_{TABLE_NAME}"),
    )


class EmployeeAnswer(BaseModel):
    """What incentives answers to ``GET /employees/{id}`` (the fields the replica keeps)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    role: str
    team: str | None = None
    hired_on: date | None = None
    left_on: date | None = None
    active: bool
    revision: int | None = None
    updated_at: datetime


EMPLOYEE = OwnerResource(name="employee", path="/employees/{id}", id_field="employee_id", model=EmployeeAnswer,
                         path_param="employee_id")


async def apply_snapshot(session: AsyncSession, table: sa.Table, *, employee_id: str, name: str, role: str,
                         team: str | None, active: bool, hired_on: date | None, left_on: date | None,
                         revision: int | None, state_at: datetime) -> None:
    """Keep the newest snapshot of an employee: by revision where both have one, else by instant.

    ``table`` is :func:`replica_table`'s, or an older replica of the same columns without ``revision``
    (feedback's), which is ordered by instant only."""
    values = {"employee_id": employee_id, "name": name, "role": role, "team": team, "active": active,
              "hired_on": hired_on, "left_on": left_on, "revision": revision, "state_at": state_at,
              "updated_at": utcnow()}
    if "revision" not in table.c:
        del values["revision"]
    statement = insert_for(session)(table).values(**values)
    excluded = statement.excluded
    newer: Any = table.c.state_at <= excluded.state_at
    if "revision" in table.c:
        newer = sa.case((sa.and_(table.c.revision.is_not(None), excluded.revision.is_not(None)),
                         table.c.revision < excluded.revision), else_=newer)
    statement = statement.on_conflict_do_update(
        index_elements=["employee_id"], set_={k: excluded[k] for k in values if k != "employee_id"}, where=newer)
    await session.execute(statement)


def register_handlers(handlers: HandlerRegistry, table: sa.Table) -> None:
    """Keep ``table`` from incentives' employee events (every version-1 type carries the snapshot)."""

    async def employee_snapshot(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = employee_events.EmployeeSnapshot.model_validate(envelope.payload)
        await apply_snapshot(session, table, employee_id=event.employee_id, name=event.name, role=event.role,
                             team=event.team, active=event.active, hired_on=event.hired_on, left_on=event.left_on,
                             revision=event.revision, state_at=envelope.occurred_at)

    for event_type in EMPLOYEE_EVENTS:
        handlers.on(event_type, 1)(employee_snapshot)


class Transactional(Protocol):
    def transaction(self) -> Any: ...


class EmployeeLookup(Protocol):
    async def employee(self, employee_id: str) -> EmployeeAnswer | None: ...


class IncentivesLookup:
    """Asks incentives (``GET /employees/{id}``) through the shared owner client."""

    def __init__(self, client: OwnerClient) -> None:
        self.client = client

    async def employee(self, employee_id: str) -> EmployeeAnswer | None:
        return await self.client.fetch(EMPLOYEE, employee_id)


class EmployeeUnknown(Unprocessable):
    slug = "employee-unknown"

    def __init__(self, employee_id: str, field: str) -> None:
        super().__init__(f"{employee_id} is not in the staff directory", field=field, employee_id=employee_id)


class EmployeeDeparted(Unprocessable):
    slug = "employee-departed"

    def __init__(self, employee_id: str, field: str, left_on: date | None) -> None:
        when = f" on {left_on.isoformat()}" if left_on else ""
        super().__init__(f"{employee_id} left the company{when}: name an active employee, or leave {field} out",
                         field=field,
                         employee_id=employee_id, left_on=left_on.isoformat() if left_on else None)


class StaffDirectory:
    """The check of employee ids a service is given (see the module's docstring)."""

    def __init__(self, table: sa.Table, lookup: EmployeeLookup) -> None:
        self.table = table
        self.lookup = lookup

    async def known(self, session: AsyncSession, employee_ids: Iterable[str]) -> dict[str, Any]:
        wanted = sorted({i for i in employee_ids if i})
        if not wanted:
            return {}
        rows = await session.execute(sa.select(self.table).where(self.table.c.employee_id.in_(wanted)))
        return {row.employee_id: row for row in rows}

    async def require(self, db: Transactional, employees: dict[str, str | None]) -> None:
        """Every id given (``{field: employee id or None}``) names an active employee, or a 4xx/503."""
        given = {field: employee_id for field, employee_id in employees.items() if employee_id}
        if not given:
            return
        async with db.transaction() as session:
            rows = await self.known(session, given.values())
        for field, employee_id in given.items():
            row = rows.get(employee_id)
            if row is None:
                row = await self._ask(db, employee_id, field)
                rows[employee_id] = row
            if not row.active:
                raise EmployeeDeparted(employee_id, field, row.left_on)

    async def _ask(self, db: Transactional, employee_id: str, field: str) -> Any:
        answer = await self.lookup.employee(employee_id)  # outside any transaction
        if answer is None:
            raise EmployeeUnknown(employee_id, field)
        async with db.transaction() as session:
            await apply_snapshot(session, self.table, employee_id=answer.id, name=answer.name, role=answer.role,
                                 team=answer.team, active=answer.active, hired_on=answer.hired_on,
                                 left_on=answer.left_on, revision=answer.revision, state_at=answer.updated_at)
            rows = await self.known(session, [employee_id])
        return rows[employee_id]


class AnyEmployee:
    """A lookup for tests that are not about staff: every id is an active employee hired today.

    Production wires :class:`IncentivesLookup`; the staff tests use the real one against incentives."""

    async def employee(self, employee_id: str) -> EmployeeAnswer | None:
        return EmployeeAnswer(id=employee_id, name=f"Employee {employee_id}", role="sales", active=True,
                              revision=None, updated_at=datetime(2000, 1, 1, tzinfo=UTC))
