"""A case's two SLA clocks as table columns, breaches, and what the public view shows of them.

``fr`` is the first-response clock (stops at the first reply to the customer, or at the
resolution if nobody replied before), ``res`` the resolution clock (pauses while the case waits
on the customer, stops at the resolution, runs again on a reopen). ``next_deadline_at`` is the
earliest deadline of a running clock that has not been reported as breached yet: the breach
detector sleeps until the smallest one.

A breach is recorded once per case and target by inserting its ``sla_breach`` row (the primary
key is the claim): whoever inserts it (the background detector of any replica, or the request
that stopped a clock late) raises the escalation level and publishes ``feedback.sla.breached``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import working_time
from services.feedback.models import Case, CaseActivity, SlaBreach
from services.feedback.working_time import US, Calendar, SlaClock
from shared.bus.outbox import add_event
from shared.db.dialect import insert_for
from shared.events.contracts import feedback as events

PREFIXES = ("fr", "res")
TARGET_NAMES = {"fr": "first_response", "res": "resolution"}
DEADLINE_KEY = "feedback_next_deadline"


def _us_or_none(instant: datetime | None) -> int | None:
    return None if instant is None else working_time.to_us(instant)


def _instant(us: int | None) -> datetime | None:
    return None if us is None else working_time.from_us(us)


def clock_of(case: Case | Any, prefix: str) -> SlaClock:
    """The clock held in a case's ``<prefix>_*`` columns (a row object or a mapping's attributes)."""
    get = (lambda name: case[name]) if isinstance(case, dict) else (lambda name: getattr(case, name))
    return SlaClock(target=get(f"{prefix}_target_us"), working=get(f"{prefix}_working"), run=get(f"{prefix}_run"),
                    elapsed=get(f"{prefix}_elapsed_us"), held=get(f"{prefix}_held_us"),
                    since=working_time.to_us(get(f"{prefix}_since")), breached=get(f"{prefix}_breached"))


def clock_columns(prefix: str, clock: SlaClock, calendar: Calendar) -> dict[str, Any]:
    """The columns storing ``clock``, with its deadline and at-risk instant planned on ``calendar``."""
    return {f"{prefix}_target_us": clock.target, f"{prefix}_working": clock.working, f"{prefix}_run": clock.run,
            f"{prefix}_elapsed_us": clock.elapsed, f"{prefix}_held_us": clock.held,
            f"{prefix}_since": working_time.from_us(clock.since), f"{prefix}_breached": clock.breached,
            f"{prefix}_due_at": _instant(clock.due_at(calendar)),
            f"{prefix}_at_risk_at": _instant(clock.at_risk_at(calendar))}


def next_deadline(values: dict[str, Any] | Case) -> datetime | None:
    get = (lambda name: values[name]) if isinstance(values, dict) else (lambda name: getattr(values, name))
    due = [get(f"{p}_due_at") for p in PREFIXES
           if get(f"{p}_run") == "running" and not get(f"{p}_breached") and get(f"{p}_due_at") is not None]
    return min(due) if due else None


def note_deadline(session: AsyncSession, deadline: datetime | None) -> None:
    """Remember the earliest deadline this transaction set, so the detector is woken after the commit."""
    if deadline is None:
        return
    current = session.info.get(DEADLINE_KEY)
    if current is None or deadline < current:
        session.info[DEADLINE_KEY] = deadline


def set_clock(session: AsyncSession, case: Case, prefix: str, clock: SlaClock, calendar: Calendar) -> None:
    for name, value in clock_columns(prefix, clock, calendar).items():
        setattr(case, name, value)
    case.next_deadline_at = next_deadline(case)
    note_deadline(session, case.next_deadline_at)


def sla_state(case: Case | dict[str, Any], calendar: Calendar, now: int) -> str:
    states = [clock_of(case, p).state(calendar, now) for p in PREFIXES]
    if "breached" in states:
        return "breached"
    if "at_risk" in states:
        return "at_risk"
    return "on_track"


def clock_public(case: Case | dict[str, Any], prefix: str, calendar: Calendar, now: int) -> dict[str, Any]:
    clock = clock_of(case, prefix)
    get = (lambda name: case[name]) if isinstance(case, dict) else (lambda name: getattr(case, name))
    remaining = clock.remaining_at(calendar, now)
    return {"target_seconds": None if clock.target is None else clock.target // US, "working_time": clock.working,
            "run": clock.run, "state": clock.state(calendar, now), "breached": clock.breached,
            "due_at": get(f"{prefix}_due_at"), "at_risk_at": get(f"{prefix}_at_risk_at"),
            "elapsed_seconds": clock.elapsed_at(calendar, now) // US,
            "remaining_seconds": None if remaining is None else _seconds_toward_zero(remaining),
            "held_seconds": clock.held_at(calendar, now) // US}


def _seconds_toward_zero(us: int) -> int:
    return int(us / US) if us < 0 else us // US


def case_facts(case: Case | dict[str, Any]) -> dict[str, Any]:
    """The ``CaseFacts`` part of every case event."""
    get = (lambda name: case[name]) if isinstance(case, dict) else (lambda name: getattr(case, name))
    return {"case_id": get("id"), "case_number": case_number(get("seq"), get("received_at")), "kind": get("kind"),
            "customer_id": get("customer_id"), "order_id": get("order_id"), "product_id": get("product_id"),
            "category_id": get("category_id"), "category_path": path_ids(get("category_path")),
            "priority": get("priority"), "channel": get("channel"), "status": get("status"),
            "assignee_id": get("assignee_id"), "employee_id": get("employee_id")}


def case_number(seq: int, received_at: datetime) -> str:
    return f"C-{received_at.year}-{seq:06d}"


def path_ids(path: str | None) -> list[str]:
    return [part for part in (path or "").split("/") if part]


async def record_breach(session: AsyncSession, *, case: Case, prefix: str, due_at: datetime, at: datetime,
                        detected_by: str) -> bool:
    """Report a missed target once: True if this call claimed it (and raised the escalation level)."""
    level = case.escalation_level + 1
    claimed = await session.execute(
        insert_for(session)(SlaBreach)
        .values(case_id=case.id, target=TARGET_NAMES[prefix], resolution_round=case.resolution_no + 1,
                due_at=due_at, breached_at=at, escalation_level=level, detected_by=detected_by)
        .on_conflict_do_nothing(index_elements=["case_id", "target"]))
    if claimed.rowcount != 1:
        return False
    case.escalation_level = level
    case.sla_breached = True
    session.add(CaseActivity(case_id=case.id, kind="sla_breached", actor=detected_by, at=at,
                             details={"target": TARGET_NAMES[prefix], "due_at": due_at.isoformat(),
                                      "escalation_level": level}))
    target = getattr(case, f"{prefix}_target_us")
    add_event(session, events.SlaBreachedV1(
        case_id=case.id, case_number=case_number(case.seq, case.received_at), kind=case.kind,  # type: ignore[arg-type]
        customer_id=case.customer_id, priority=case.priority, category_id=case.category_id,  # type: ignore[arg-type]
        assignee_id=case.assignee_id, employee_id=case.employee_id, target=TARGET_NAMES[prefix],  # type: ignore[arg-type]
        target_seconds=(target or 0) // US, working_time=getattr(case, f"{prefix}_working"), due_at=due_at,
        breached_at=at, escalation_level=level),
        aggregate_id=case.id, customer_id=case.customer_id, occurred_at=at)
    return True


async def stop_or_pause(session: AsyncSession, *, case: Case, prefix: str, calendar: Calendar, at: datetime,
                        action: str, actor: str) -> SlaClock:
    """Stop or pause a clock; a clock that stops or pauses late is a breach, reported if nobody did yet."""
    before = clock_of(case, prefix)
    at_us = working_time.to_us(at)
    after = {"stop": before.stop, "pause": before.pause}[action](calendar, at_us)
    due_at = getattr(case, f"{prefix}_due_at")
    set_clock(session, case, prefix, after, calendar)
    if after.breached and not before.breached and due_at is not None:
        await record_breach(session, case=case, prefix=prefix, due_at=due_at, at=at, detected_by=actor)
    return after


async def detect_due_breaches(session: AsyncSession, *, case: Case, calendar: Calendar, now: datetime,
                              detected_by: str) -> int:
    """Mark every running clock of ``case`` whose deadline has passed; the number of breaches reported."""
    reported = 0
    for prefix in PREFIXES:
        clock = clock_of(case, prefix)
        due_at = getattr(case, f"{prefix}_due_at")
        if clock.run != "running" or clock.breached or due_at is None or due_at >= now:
            continue
        set_clock(session, case, prefix, clock.mark_breached(), calendar)
        reported += await record_breach(session, case=case, prefix=prefix, due_at=due_at, at=now,
                                        detected_by=detected_by)
    case.next_deadline_at = next_deadline(case)
    return reported
