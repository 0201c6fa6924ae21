"""The SLA policy and the working calendar: versions, the one in force, and replacing them.

A policy change applies to cases opened afterwards (a case keeps the version it was opened
under, with its targets copied onto it). A calendar change applies to every running clock from
the moment of the change: the time each clock counted under the old calendar is folded into its
elapsed time first, then its deadline is planned again under the new one.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import sla_policy, working_time
from services.feedback.models import CalendarVersion, Case, SlaPolicyVersion
from services.feedback.schemas import CalendarUpdate, SlaPolicyUpdate
from services.feedback.sla_policy import Policy, PolicyEntry, Target
from services.feedback.use_cases import sla
from shared.db.types import utcnow
from shared.http.errors import Conflict, Unprocessable

DEFAULT_WEEK: dict[str, list[list[str]]] = {
    day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
DEFAULT_CALENDAR = {"time_zone": "Asia/Jakarta", "week": DEFAULT_WEEK, "holidays": [], "country": "ID",
                    "subdivision": None}
REBASE_CHUNK = 500


# ----- the calendar ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _calendar_from(time_zone: str, week_json: str, holidays: tuple[date, ...], country: str | None,
                   subdivision: str | None) -> working_time.Calendar:
    week = json.loads(week_json)
    return working_time.Calendar.build(time_zone=time_zone, week={d: [tuple(w) for w in ws] for d, ws in week.items()},
                                       holidays=holidays, country=country, subdivision=subdivision)


def calendar_of(spec: dict[str, Any]) -> working_time.Calendar:
    holidays = tuple(sorted(date.fromisoformat(h["date"]) for h in spec["holidays"]))
    return _calendar_from(spec["time_zone"], json.dumps(spec["week"], sort_keys=True), holidays, spec["country"],
                          spec["subdivision"])


def _spec_of(row: CalendarVersion | None) -> tuple[int, dict[str, Any], CalendarVersion | None]:
    if row is None:
        return 0, DEFAULT_CALENDAR, None
    return row.version, {"time_zone": row.time_zone, "week": row.week, "holidays": row.holidays,
                         "country": row.country, "subdivision": row.subdivision}, row


async def calendar_row(session: AsyncSession) -> tuple[int, dict[str, Any], CalendarVersion | None]:
    row = await session.scalar(select(CalendarVersion).order_by(CalendarVersion.version.desc()).limit(1))
    return _spec_of(row)


async def current_calendar(session: AsyncSession) -> working_time.Calendar:
    _version, spec, _row = await calendar_row(session)
    return calendar_of(spec)


def upcoming_holidays(calendar: working_time.Calendar, *, today: date, days: int = 366) -> list[tuple[date, str]]:
    found = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        name = calendar.holiday_name(day)
        if name is not None:
            found.append((day, name))
    return found


def _rebase_chunk(cases: Sequence[Case], old: working_time.Calendar, new: working_time.Calendar,
                  at: int) -> list[dict[str, Any]]:
    """Pure and CPU-bound: the new clock columns of each case (run in a worker thread)."""
    changes = []
    for case in cases:
        values: dict[str, Any] = {}
        for prefix in sla.PREFIXES:
            clock = sla.clock_of(case, prefix).rebased(old, at)
            values.update(sla.clock_columns(prefix, clock, new))
        values["next_deadline_at"] = sla.next_deadline(values)
        changes.append(values)
    return changes


async def put_calendar(session: AsyncSession, *, data: CalendarUpdate, actor: str) -> tuple[int, dict[str, Any],
                                                                                             CalendarVersion]:
    """A new calendar version; every open case's running clocks are rebased onto it."""
    spec = {"time_zone": data.time_zone,
            "week": {day: [[w.start, w.end] for w in windows] for day, windows in data.week.items() if windows},
            "holidays": [{"date": h.date.isoformat(), **({"name": h.name} if h.name else {})}
                         for h in sorted(data.holidays, key=lambda h: h.date)],
            "country": data.country, "subdivision": data.subdivision}
    if len({h["date"] for h in spec["holidays"]}) != len(spec["holidays"]):
        raise Unprocessable("each holiday date may be listed once", field="holidays")
    try:
        new = calendar_of(spec)
    except working_time.CalendarError as exc:
        raise Unprocessable(str(exc), field="calendar") from exc
    previous = await session.scalar(
        select(CalendarVersion).order_by(CalendarVersion.version.desc()).limit(1).with_for_update())
    version, old_spec, _ = _spec_of(previous)
    old = calendar_of(old_spec)
    now = utcnow()
    row = CalendarVersion(version=version + 1, time_zone=spec["time_zone"], week=spec["week"],
                          holidays=spec["holidays"], country=spec["country"], subdivision=spec["subdivision"],
                          created_by=actor, created_at=now)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("the calendar was changed by someone else at the same time; read it and try again",
                       version=version + 1) from exc
    await _rebase_open_cases(session, old=old, new=new, at=working_time.to_us(now))
    return row.version, spec, row


async def _rebase_open_cases(session: AsyncSession, *, old: working_time.Calendar, new: working_time.Calendar,
                             at: int) -> None:
    last_seq = 0
    while True:
        cases = list((await session.execute(
            select(Case).where(Case.seq > last_seq, (Case.fr_run != "stopped") | (Case.res_run != "stopped"))
            .order_by(Case.seq).limit(REBASE_CHUNK).with_for_update())).scalars())
        if not cases:
            return
        changes = await asyncio.to_thread(_rebase_chunk, cases, old, new, at)
        for case, values in zip(cases, changes, strict=True):
            for name, value in values.items():
                setattr(case, name, value)
            sla.note_deadline(session, case.next_deadline_at)
        await session.flush()
        last_seq = cases[-1].seq or last_seq


# ----- the SLA policy ---------------------------------------------------------------------------------

def _target(raw: dict[str, Any] | None) -> Target | None:
    return None if raw is None else Target(seconds=raw["seconds"], working_time=raw["working_time"])


def policy_of(row: SlaPolicyVersion | None) -> Policy:
    if row is None:
        return sla_policy.DEFAULT_POLICY
    return Policy(version=row.version, raise_priority_segments=tuple(row.raise_priority_segments),
                  entries=tuple(PolicyEntry(kind=e["kind"], priority=e["priority"],
                                            first_response=_target(e["first_response"]),
                                            resolution=_target(e["resolution"])) for e in row.targets))


async def policy_row(session: AsyncSession) -> SlaPolicyVersion | None:
    return await session.scalar(select(SlaPolicyVersion).order_by(SlaPolicyVersion.version.desc()).limit(1))


async def current_policy(session: AsyncSession) -> Policy:
    return policy_of(await policy_row(session))


def policy_public(policy: Policy, row: SlaPolicyVersion | None) -> dict[str, Any]:
    return {"version": policy.version, "raise_priority_segments": list(policy.raise_priority_segments),
            "created_by": row.created_by if row else None, "created_at": row.created_at if row else None,
            "targets": [{"kind": e.kind, "priority": e.priority,
                         "first_response": _target_json(e.first_response), "resolution": _target_json(e.resolution)}
                        for e in policy.entries]}


def _target_json(target: Target | None) -> dict[str, Any] | None:
    return None if target is None else {"seconds": target.seconds, "working_time": target.working_time}


async def put_policy(session: AsyncSession, *, data: SlaPolicyUpdate, actor: str) -> tuple[Policy, SlaPolicyVersion]:
    entries = [PolicyEntry(kind=e.kind, priority=e.priority,
                           first_response=_target(e.first_response.model_dump() if e.first_response else None),
                           resolution=_target(e.resolution.model_dump() if e.resolution else None))
               for e in data.targets]
    if twice := sla_policy.duplicates(entries):
        raise Unprocessable(f"more than one entry for {', '.join(twice)}", field="targets", duplicates=twice)
    if missing := sla_policy.uncovered(entries):
        raise Unprocessable(f"no target for {', '.join(missing)}: add them, or an entry with kind null for their "
                            "priority", field="targets", uncovered=missing)
    previous = await session.scalar(
        select(SlaPolicyVersion).order_by(SlaPolicyVersion.version.desc()).limit(1).with_for_update())
    version = (previous.version if previous else 0) + 1
    row = SlaPolicyVersion(version=version, created_by=actor, created_at=utcnow(),
                           raise_priority_segments=sorted(set(data.raise_priority_segments)),
                           targets=[{"kind": e.kind, "priority": e.priority,
                                     "first_response": _target_json(e.first_response),
                                     "resolution": _target_json(e.resolution)} for e in entries])
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("the SLA policy was changed by someone else at the same time; read it and try again",
                       version=version) from exc
    return policy_of(row), row


def clock_targets(policy: Policy, kind: str, priority: str) -> tuple[Target | None, Target | None]:
    entry = policy.targets(kind, priority)
    return entry.first_response, entry.resolution


def as_instant(us: int | None) -> datetime | None:
    return None if us is None else working_time.from_us(us)
