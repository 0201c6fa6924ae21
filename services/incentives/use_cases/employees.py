"""The staff directory: the system of record of employees, announced to the other services."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.errors import EmployeeNotFound, EmployeeUnknown
from services.incentives.models import Employee
from services.incentives.rules.periods import local_date
from services.incentives.schemas import EmployeeCreate, EmployeeUpdate
from services.incentives.use_cases.common import insert_for
from shared.bus.outbox import add_event
from shared.events.contracts import incentives as events
from shared.http.errors import Conflict, Unprocessable
from shared.http.pagination import PageParams, cursor_value, encode_cursor

SNAPSHOT_FIELDS = ("name", "role", "team", "email", "hired_on", "left_on", "active")


def _snapshot(employee: Employee) -> dict[str, Any]:
    return {"employee_id": employee.id, "name": employee.name, "role": employee.role, "team": employee.team,
            "email": employee.email, "hired_on": employee.hired_on, "left_on": employee.left_on,
            "active": employee.active, "revision": employee.revision}


def _check_dates(*, hired_on: date, left_on: date | None, today: date) -> None:
    if hired_on > today:
        raise Unprocessable("hired_on may not be in the future: add the employee on their first day",
                            field="hired_on")
    if left_on is not None:
        if left_on < hired_on:
            raise Unprocessable("left_on may not be before hired_on", field="left_on")
        if left_on > today:
            raise Unprocessable("left_on may not be in the future: record the departure on or after the last day",
                                field="left_on")


async def _email_taken(session: AsyncSession, email_key: str) -> Conflict:
    holder = await session.scalar(select(Employee.id).where(Employee.email_key == email_key))
    return Conflict(f"the e-mail is already used by employee {holder}", field="email", existing_employee_id=holder)


async def create_employee(session: AsyncSession, *, data: EmployeeCreate, actor: str, now: datetime,
                          zone: Any) -> Employee:
    """Add an employee; an id of the caller's own (an HR number) or a UUID. Insert-or-nothing on id and e-mail."""
    today = local_date(now, zone)
    left_on = data.left_on if data.left_on is not None else (None if data.active else today)
    _check_dates(hired_on=data.hired_on, left_on=left_on, today=today)
    active = data.active and left_on is None
    employee_id = data.id or str(uuid.uuid4())
    email_key = data.email.lower() if data.email else None
    values = {"id": employee_id, "name": data.name, "role": data.role, "team": data.team, "email": data.email,
              "email_key": email_key, "hired_on": data.hired_on, "left_on": left_on, "active": active,
              "revision": 1, "created_by": actor, "created_at": now, "updated_at": now}
    if email_key is not None:
        holder = await session.scalar(select(Employee.id).where(Employee.email_key == email_key))
        if holder is not None:
            raise await _email_taken(session, email_key)
    inserted = await session.execute(insert_for(session)(Employee).values(**values)
                                     .on_conflict_do_nothing().returning(Employee.id))
    if inserted.scalar_one_or_none() is None:
        if await session.get(Employee, employee_id) is not None:
            raise Conflict(f"employee {employee_id} already exists", field="id", existing_employee_id=employee_id)
        raise await _email_taken(session, email_key or "")  # a concurrent insert took the e-mail
    employee = Employee(**values)
    add_event(session, events.EmployeeHiredV1(**_snapshot(employee)), aggregate_id=employee.id, occurred_at=now)
    if not active:
        add_event(session, events.EmployeeLeftV1(**_snapshot(employee)), aggregate_id=employee.id, occurred_at=now)
    return employee


async def get_employee(session: AsyncSession, *, employee_id: str, for_update: bool = False) -> Employee:
    employee = await session.get(Employee, employee_id, with_for_update=for_update or None,
                                 populate_existing=for_update)
    if employee is None:
        raise EmployeeNotFound(employee_id)
    return employee


async def update_employee(session: AsyncSession, *, employee_id: str, data: EmployeeUpdate, actor: str,
                          now: datetime, zone: Any) -> Employee:
    """Change only the fields sent. A departure (``left_on``, or ``active: false`` which dates it today)
    deactivates and is announced as ``left``; ``active: true`` re-hires (clears ``left_on``)."""
    employee = await get_employee(session, employee_id=employee_id, for_update=True)
    today = local_date(now, zone)
    before = {name: getattr(employee, name) for name in SNAPSHOT_FIELDS}
    fields = data.model_fields_set
    for name in ("name", "role", "team", "email", "hired_on"):
        if name in fields:
            setattr(employee, name, getattr(data, name))
    if "left_on" in fields:
        employee.left_on = data.left_on
        employee.active = data.left_on is None if "active" not in fields else bool(data.active)
    if "active" in fields:
        employee.active = bool(data.active)
        if data.active and "left_on" not in fields:
            employee.left_on = None
        elif not data.active and employee.left_on is None:
            employee.left_on = today
    if employee.active and employee.left_on is not None:
        raise Unprocessable("an active employee has no left_on: send active false, or left_on null to re-hire",
                            field="active")
    if employee.hired_on != before["hired_on"] and employee.hired_on > today:
        raise Unprocessable("hired_on may not be in the future", field="hired_on")
    if employee.left_on is not None:
        if employee.left_on < employee.hired_on:
            raise Unprocessable("left_on may not be before hired_on", field="left_on")
        if employee.left_on != before["left_on"] and employee.left_on > today:
            raise Unprocessable("left_on may not be in the future: record the departure on or after the last day",
                                field="left_on")
    changed = sorted(name for name in SNAPSHOT_FIELDS if getattr(employee, name) != before[name])
    if not changed:
        return employee
    if "email" in changed:
        new_key = employee.email.lower() if employee.email else None
        if new_key is not None:
            holder = await session.scalar(select(Employee.id).where(Employee.email_key == new_key,
                                                                    Employee.id != employee.id))
            if holder is not None:
                raise await _email_taken(session, new_key)
        employee.email_key = new_key
    employee.revision += 1
    employee.updated_at = now
    session.add(employee)
    await session.flush()
    snapshot = _snapshot(employee)
    if before["active"] and not employee.active:
        add_event(session, events.EmployeeLeftV1(**snapshot), aggregate_id=employee.id, occurred_at=now)
    else:
        add_event(session, events.EmployeeUpdatedV1(**snapshot, changed_fields=changed), aggregate_id=employee.id,
                  occurred_at=now)
    return employee


async def list_employees(session: AsyncSession, *, page: PageParams, role: str | None = None,
                         team: str | None = None, active: bool | None = None) -> tuple[list[Employee], str | None]:
    """By id; the cursor is the last id returned."""
    query = select(Employee)
    if role:
        query = query.where(Employee.role == role)
    if team:
        query = query.where(Employee.team == team)
    if active is not None:
        query = query.where(Employee.active.is_(active))
    if page.cursor:
        query = query.where(Employee.id > cursor_value(page.cursor, "id"))
    rows = list((await session.execute(query.order_by(Employee.id).limit(page.limit + 1))).scalars())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor({"id": rows[-1].id})


async def require_known(session: AsyncSession, employee_ids: list[str], *, field: str) -> dict[str, Employee]:
    """The directory rows of ``employee_ids``; any unknown id is a 422 naming it."""
    wanted = sorted(set(employee_ids))
    if not wanted:
        return {}
    rows = {e.id: e for e in (await session.execute(select(Employee).where(Employee.id.in_(wanted)))).scalars()}
    missing = [e for e in wanted if e not in rows]
    if missing:
        raise EmployeeUnknown(missing, field=field)
    return rows


def active_on(employee: Employee | None, day: date) -> bool:
    """Still employed on ``day`` (hired by then, not left before it)."""
    if employee is None:
        return False
    return employee.hired_on <= day and (employee.left_on is None or employee.left_on >= day)

