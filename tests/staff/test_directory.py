"""The staff-directory mechanism every service uses: the replica keeps the newest snapshot whatever the
order of the news, and ``require`` refuses unknown and departed employees by name, asking the owner only
about ids the replica has not heard of (on SQLite here; the services' tests run it on PostgreSQL
against the real incentives service)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db.engine import Database
from shared.http.errors import DependencyUnavailable
from shared.staff.directory import (
    EmployeeAnswer,
    EmployeeDeparted,
    EmployeeUnknown,
    StaffDirectory,
    apply_snapshot,
    replica_table,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TABLE = replica_table(sa.MetaData())


class Owner:
    """What incentives would answer, and which ids it was asked about."""

    def __init__(self, *employees: EmployeeAnswer, down: bool = False) -> None:
        self.employees = {e.id: e for e in employees}
        self.down = down
        self.asked: list[str] = []

    async def employee(self, employee_id: str) -> EmployeeAnswer | None:
        self.asked.append(employee_id)
        if self.down:
            raise DependencyUnavailable("incentives is down", dependency="incentives")
        return self.employees.get(employee_id)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'staff.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(TABLE.metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


async def snapshot(db: Database, employee_id: str, *, revision: int | None, active: bool, at: datetime) -> None:
    async with db.transaction() as session:
        await apply_snapshot(session, TABLE, employee_id=employee_id, name="Ani", role="sales", team=None,
                             active=active, hired_on=date(2024, 1, 1), left_on=None if active else date(2026, 11, 2),
                             revision=revision, state_at=at)


async def active_of(db: Database, employee_id: str) -> bool:
    async with db.transaction() as session:
        return bool((await session.execute(sa.select(TABLE.c.active).where(TABLE.c.employee_id == employee_id)))
                    .scalar_one())


async def test_the_newest_snapshot_wins_by_revision_whatever_the_arrival_order(db: Database) -> None:
    # The departure (revision 2, stamped by a replica whose clock is behind) arrives first.
    await snapshot(db, "e1", revision=2, active=False, at=T0)
    await snapshot(db, "e1", revision=1, active=True, at=T0 + timedelta(hours=1))
    assert await active_of(db, "e1") is False
    await snapshot(db, "e1", revision=3, active=True, at=T0 - timedelta(days=1))
    assert await active_of(db, "e1") is True
    # Without revisions (an older producer), the later instant wins.
    await snapshot(db, "e2", revision=None, active=False, at=T0 + timedelta(hours=2))
    await snapshot(db, "e2", revision=None, active=True, at=T0)
    assert await active_of(db, "e2") is False


async def test_require_asks_only_about_unheard_ids_and_names_the_refused(db: Database) -> None:
    await snapshot(db, "known", revision=1, active=True, at=T0)
    await snapshot(db, "gone", revision=2, active=False, at=T0)
    owner = Owner(EmployeeAnswer(id="new", name="Bayu", role="support", active=True, revision=1, updated_at=T0))
    directory = StaffDirectory(TABLE, owner)

    await directory.require(db, {"employee_id": "known", "assignee_id": None})
    assert owner.asked == []
    await directory.require(db, {"assignee_id": "new"})
    await directory.require(db, {"assignee_id": "new"})
    assert owner.asked == ["new"]  # kept in the replica after the first answer

    with pytest.raises(EmployeeDeparted) as departed:
        await directory.require(db, {"assignee_id": "gone"})
    assert departed.value.status == 422 and "2026-11-02" in str(departed.value)
    with pytest.raises(EmployeeUnknown) as unknown:
        await directory.require(db, {"sales_employee_id": "nobody"})
    assert unknown.value.status == 422 and "nobody" in str(unknown.value)

    with pytest.raises(DependencyUnavailable):
        await StaffDirectory(TABLE, Owner(down=True)).require(db, {"employee_id": "stranger"})
    await StaffDirectory(TABLE, Owner(down=True)).require(db, {"employee_id": "known"})  # the replica suffices
