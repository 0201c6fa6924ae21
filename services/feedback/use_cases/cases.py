"""Cases: opening one (the hot path), reading them, and the workflow commands that move them.

Opening a case is one transaction of Core statements: the replicas' rows, the category, the SLA
policy and the calendar are read; the case (with both clocks planned), its first timeline rows
and its events are written; the answer is built from what was written. When a replica has not
heard of the customer, order or product, ``ReplicaMiss`` rolls the transaction back so the
router can ask the owner outside any transaction and try once more.

Every command loads the case ``FOR UPDATE`` (commands on one case are serialised), checks the
workflow rule, changes the clocks, appends to the timeline and adds its event to the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import priority as priority_rule
from services.feedback import workflow, working_time
from services.feedback.errors import CaseNotFound, CustomerErased, CustomerMerged, InvalidTransition, Unknown
from services.feedback.models import (
    Case,
    CaseActivity,
    CaseResolution,
    CaseResponse,
    Category,
    CustomerReplica,
    EmployeeReplica,
    OrderReplica,
    ProductReplica,
    new_id,
)
from services.feedback.schemas import CaseCreate
from services.feedback.use_cases import configuration, replicas, sla
from services.feedback.use_cases.replicas import SHARE, Missing, ReplicaMiss
from services.feedback.working_time import US, Calendar, SlaClock
from shared.bus.outbox import add_event
from shared.events.contracts import feedback as events
from shared.http.errors import Unprocessable
from shared.http.history import happened_at
from shared.http.pagination import PageParams, time_id_cursor, time_id_page

CASE_COLUMNS = tuple(c.name for c in Case.__table__.columns)  # type: ignore[attr-defined]


def row_dict(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in CASE_COLUMNS}


# ----- the public view ---------------------------------------------------------------------------------

def _verified(employee_id: str | None, known: dict[str, EmployeeReplica]) -> bool | None:
    return None if employee_id is None else employee_id in known


def public(case: dict[str, Any], *, calendar: Calendar, now: datetime,
           known_employees: dict[str, EmployeeReplica]) -> dict[str, Any]:
    at = working_time.to_us(now)
    return {
        "id": case["id"], "number": sla.case_number(case["seq"], case["received_at"]), "kind": case["kind"],
        "status": case["status"], "customer_id": case["customer_id"],
        "original_customer_id": case["original_customer_id"], "order_id": case["order_id"],
        "line_nos": case["line_nos"], "product_id": case["product_id"], "channel": case["channel"],
        "subject": case["subject"], "body": case["body"], "category_id": case["category_id"],
        "category_path": sla.path_ids(case["category_path"]), "tags": case["tags"], "priority": case["priority"],
        "priority_by_rule": case["priority_by_rule"], "assignee_id": case["assignee_id"],
        "assignee_verified": _verified(case["assignee_id"], known_employees), "employee_id": case["employee_id"],
        "employee_verified": _verified(case["employee_id"], known_employees), "received_at": case["received_at"],
        "created_by": case["created_by"], "updated_at": case["updated_at"],
        "first_response_at": case["first_response_at"], "resolution_no": case["resolution_no"],
        "resolved_at": case["resolved_at"], "closed_at": case["closed_at"], "rated": case["rated"],
        "sla": {"state": sla.sla_state(case, calendar, at), "policy_version": case["sla_policy_version"],
                "escalation_level": case["escalation_level"],
                "first_response": sla.clock_public(case, "fr", calendar, at),
                "resolution": sla.clock_public(case, "res", calendar, at),
                "calendar_time_zone": calendar.time_zone},
        "allowed_commands": workflow.allowed_commands(case["status"], rated=case["rated"]),
    }


async def publics(session: AsyncSession, cases: Iterable[dict[str, Any]], *, now: datetime) -> list[dict[str, Any]]:
    cases = list(cases)
    calendar = await configuration.current_calendar(session)
    known = await replicas.employees(session, {c["assignee_id"] for c in cases} | {c["employee_id"] for c in cases})
    return [public(c, calendar=calendar, now=now, known_employees=known) for c in cases]


# ----- opening a case --------------------------------------------------------------------------------

async def _references(session: AsyncSession, data: CaseCreate) -> tuple[CustomerReplica, OrderReplica | None,
                                                                         ProductReplica | None]:
    customer = await session.get(CustomerReplica, data.customer_id, with_for_update=SHARE)
    order = await session.get(OrderReplica, data.order_id) if data.order_id else None
    # With an order, the order's lines say which products it holds; a product alone is looked up.
    alone = data.product_id if data.product_id and not data.order_id else None
    product = await session.get(ProductReplica, alone) if alone else None
    missing = Missing(customer_id=data.customer_id if customer is None else None,
                      order_id=data.order_id if data.order_id and order is None else None,
                      product_id=alone if alone and product is None else None)
    if missing != Missing():
        raise ReplicaMiss(missing)
    assert customer is not None
    if customer.status == "merged":
        raise CustomerMerged(customer.customer_id, await replicas.survivor_of(session, customer.customer_id))
    if customer.status == "erased":
        raise CustomerErased(customer.customer_id)
    return customer, order, product


async def _check_order(session: AsyncSession, data: CaseCreate, order: OrderReplica) -> str | None:
    """The order must be the customer's (or a duplicate's merged into them); the product on a named line."""
    if order.customer_id != data.customer_id and await replicas.survivor_of(session, order.customer_id) \
            != data.customer_id:
        raise Unknown("order_id", order.order_id, f"order {order.order_id} is not an order of customer "
                                                  f"{data.customer_id}")
    lines = {int(line["line_no"]): str(line["product_id"]) for line in order.lines}
    if unknown := sorted(set(data.line_nos) - set(lines)):
        raise Unprocessable(f"order {order.order_id} has no lines {unknown}", field="line_nos",
                            unknown_line_nos=unknown)
    if data.product_id is not None and data.product_id not in lines.values():
        raise Unknown("product_id", data.product_id, f"product {data.product_id} is not on order {order.order_id}")
    if data.line_nos and data.product_id is not None and any(lines[n] != data.product_id for n in data.line_nos):
        raise Unprocessable("the named lines are not all of the named product", field="line_nos")
    named = {lines[n] for n in data.line_nos}
    return data.product_id or (named.pop() if len(named) == 1 else None)


async def _category(session: AsyncSession, category_id: str | None) -> Category | None:
    if category_id is None:
        return None
    category = await session.get(Category, category_id)
    if category is None:
        raise Unknown("category_id", category_id, f"no category {category_id}")
    if not category.active:
        raise Unprocessable(f"category {category_id} is retired and takes no new cases", field="category_id",
                            category_id=category_id)
    return category


async def _usable_employees(session: AsyncSession, *, assignee_id: str | None,
                            employee_id: str | None) -> dict[str, EmployeeReplica]:
    """Known employees among those named; an assignee who left the company is refused."""
    known = await replicas.employees(session, {i for i in (assignee_id, employee_id) if i})
    if assignee_id and assignee_id in known and not known[assignee_id].active:
        raise Unprocessable(f"employee {assignee_id} has left the company and takes no new work",
                            field="assignee_id", assignee_id=assignee_id)
    return known


def _started_clocks(first_response: Any, resolution: Any, at: int, calendar: Calendar) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for prefix, target in (("fr", first_response), ("res", resolution)):
        clock = SlaClock.started(target=None if target is None else target.seconds * US,
                                 working=True if target is None else target.working_time, at=at)
        values.update(sla.clock_columns(prefix, clock, calendar))
    return values


async def open_case(session: AsyncSession, *, data: CaseCreate, actor: str, currency: str,
                    now: datetime) -> dict[str, Any]:
    """Open a case: the row as written, ready for ``public``."""
    recorded_at, now = now, happened_at(data.received_at, now=now, field="received_at")
    customer, order, _product = await _references(session, data)
    product_id = await _check_order(session, data, order) if order is not None else data.product_id
    category = await _category(session, data.category_id)
    known = await _usable_employees(session, assignee_id=data.assignee_id, employee_id=data.employee_id)
    policy = await configuration.current_policy(session)
    calendar = await configuration.current_calendar(session)
    priority = data.priority or priority_rule.default_priority(data.kind, customer.segment,
                                                              policy.raise_priority_segments)
    first_response, resolution = configuration.clock_targets(policy, data.kind, priority)
    status = "assigned" if data.assignee_id else "new"
    values: dict[str, Any] = {
        "id": new_id(), "kind": data.kind, "status": status, "customer_id": data.customer_id,
        "original_customer_id": data.customer_id, "order_id": data.order_id, "product_id": product_id,
        "line_nos": sorted(data.line_nos), "channel": data.channel, "subject": data.subject, "body": data.body,
        "category_id": category.id if category else None, "category_path": category.path if category else None,
        "tags": data.tags, "priority": priority, "priority_by_rule": data.priority is None,
        "assignee_id": data.assignee_id, "employee_id": data.employee_id, "currency": currency,
        "received_at": now, "created_by": actor, "updated_at": now, "sla_policy_version": policy.version,
        "first_response_at": None, "sla_breached": False, "escalation_level": 0, "waiting_since": None,
        "resolution_no": 0, "resolved_at": None, "closed_at": None, "rated": False,
        **_started_clocks(first_response, resolution, working_time.to_us(now), calendar),
    }
    values["next_deadline_at"] = sla.next_deadline(values)
    if data.received_at is not None:
        values["next_deadline_at"] = held_for_history(values["next_deadline_at"], recorded_at=recorded_at)
    values["seq"] = (await session.execute(insert(Case).values(**values).returning(Case.seq))).scalar_one()
    timeline = [{"case_id": values["id"], "kind": "received", "actor": actor, "at": now, "from_status": None,
                 "to_status": "new", "details": {"channel": data.channel, "priority": priority,
                                                 "priority_by_rule": data.priority is None}}]
    if data.assignee_id:
        timeline.append({"case_id": values["id"], "kind": "assigned", "actor": actor, "at": now,
                         "from_status": "new", "to_status": "assigned",
                         "details": {"assignee_id": data.assignee_id, "previous_assignee_id": None}})
    await session.execute(insert(CaseActivity), timeline)
    facts = sla.case_facts(values)
    add_event(session, events.CaseReceivedV1(
        **facts, line_nos=values["line_nos"], sla_policy_version=policy.version,
        first_response_due_at=values["fr_due_at"], resolution_due_at=values["res_due_at"], received_at=now),
        aggregate_id=values["id"], customer_id=data.customer_id, occurred_at=now)
    if data.assignee_id:
        add_event(session, events.CaseAssignedV1(**facts, previous_assignee_id=None, assigned_by=actor,
                                                 assigned_at=now),
                  aggregate_id=values["id"], customer_id=data.customer_id, occurred_at=now)
    sla.note_deadline(session, values["next_deadline_at"])
    values["_calendar"], values["_known"] = calendar, known
    return values


# A history recorded afterwards comes one step per request: its deadlines are long past when the case is
# written, and the breach detector would judge the clocks at the present before the next step (which may
# well have been on time) arrives. The detector waits this long after each recorded step; a step that
# stops a clock late is reported as a breach at its own instant by the step itself (sla.stop_or_pause).
HISTORY_GRACE = timedelta(minutes=15)


def held_for_history(deadline: datetime | None, *, recorded_at: datetime) -> datetime | None:
    return None if deadline is None else max(deadline, recorded_at + HISTORY_GRACE)


async def step_at(session: AsyncSession, case: Case, given: datetime | None, *, now: datetime,
                  field: str = "occurred_at") -> datetime:
    """Like ``happened_at`` for a step of an open case: a timeline runs forwards, so a given instant is not
    before the case's previous step (its SLA clocks would run backwards)."""
    at = happened_at(given, now=now, field=field)
    if given is not None:
        # The detector's "sla_breached" entries are observations at the present, not steps of the history.
        previous = await session.scalar(select(CaseActivity.at).where(CaseActivity.case_id == case.id,
                                                                      CaseActivity.kind != "sla_breached")
                                        .order_by(CaseActivity.at.desc()).limit(1))
        if previous is not None and at < previous:
            raise Unprocessable(f"{field} cannot be before the case's previous step ({previous.isoformat()})",
                                field=field, previous_at=previous.isoformat())
    return at


# ----- reading -----------------------------------------------------------------------------------------

async def get(session: AsyncSession, *, case_id: str, for_update: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    case = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(case_id)
    return case


async def detail(session: AsyncSession, *, case_id: str, now: datetime) -> dict[str, Any]:
    case = row_dict(await get(session, case_id=case_id))
    [view] = await publics(session, [case], now=now)
    timeline = (await session.execute(select(CaseActivity).where(CaseActivity.case_id == case_id)
                                      .order_by(CaseActivity.id))).scalars()
    responses = (await session.execute(select(CaseResponse).where(CaseResponse.case_id == case_id)
                                       .order_by(CaseResponse.at, CaseResponse.id))).scalars()
    resolutions = (await session.execute(select(CaseResolution).where(CaseResolution.case_id == case_id)
                                         .order_by(CaseResolution.resolution_no))).scalars()
    view["timeline"] = [{"kind": a.kind, "actor": a.actor, "at": a.at, "from_status": a.from_status,
                         "to_status": a.to_status, "details": a.details} for a in timeline]
    view["responses"] = list(responses)
    view["resolutions"] = [resolution_public(r) for r in resolutions]
    return view


def resolution_public(r: CaseResolution) -> dict[str, Any]:
    return {"resolution_no": r.resolution_no, "outcome": r.outcome, "text": r.text, "compensation": r.compensation,
            "compensation_amount": r.compensation_amount, "currency": r.currency,
            "cited_standard_id": r.cited_standard_id, "cited_standard_version": r.cited_standard_version,
            "resolved_by": r.resolved_by, "resolved_at": r.resolved_at,
            "first_response_working_seconds": None if r.first_response_us is None else r.first_response_us // US,
            "resolution_working_seconds": r.resolution_us // US, "waited_seconds": r.waited_us // US,
            "first_response_breached": r.first_response_breached, "resolution_breached": r.resolution_breached,
            "rating": r.rating, "rating_comment": r.rating_comment, "rated_by": r.rated_by, "rated_at": r.rated_at}


def _present(column: Any, now: datetime) -> Any:
    return and_(column.is_not(None), column < now)


def breached_condition(now: datetime) -> Any:
    return or_(Case.sla_breached.is_(True),
               and_(Case.fr_run == "running", _present(Case.fr_due_at, now)),
               and_(Case.res_run == "running", _present(Case.res_due_at, now)))


def at_risk_condition(now: datetime) -> Any:
    risky = or_(and_(Case.fr_run != "stopped", Case.fr_at_risk_at.is_not(None), Case.fr_at_risk_at <= now),
                and_(Case.res_run != "stopped", Case.res_at_risk_at.is_not(None), Case.res_at_risk_at <= now))
    return and_(not_(breached_condition(now)), risky)


async def list_cases(session: AsyncSession, *, page: PageParams, now: datetime, kind: str | None = None,
                     status: str | None = None, category_id: str | None = None, priority: str | None = None,
                     assignee_id: str | None = None, customer_id: str | None = None, order_id: str | None = None,
                     product_id: str | None = None, sla_state: str | None = None,
                     received_from: datetime | None = None,
                     received_to: datetime | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the category filter takes its whole subtree."""
    query = select(Case)
    for column, value in ((Case.kind, kind), (Case.status, status), (Case.priority, priority),
                          (Case.assignee_id, assignee_id), (Case.customer_id, customer_id),
                          (Case.order_id, order_id), (Case.product_id, product_id)):
        if value is not None:
            query = query.where(column == value)
    if category_id is not None:
        category = await session.get(Category, category_id)
        if category is None:
            raise Unknown("category_id", category_id, f"no category {category_id}")
        query = query.where(Case.category_path.startswith(category.path, autoescape=True))
    if sla_state == "breached":
        query = query.where(breached_condition(now))
    elif sla_state == "at_risk":
        query = query.where(at_risk_condition(now))
    elif sla_state == "on_track":
        query = query.where(not_(breached_condition(now)), not_(at_risk_condition(now)))
    if received_from is not None:
        query = query.where(Case.received_at >= received_from)
    if received_to is not None:
        query = query.where(Case.received_at < received_to)
    if page.cursor:
        at, last_id = time_id_cursor(page.cursor, "received_at")
        query = query.where(or_(Case.received_at < at, and_(Case.received_at == at, Case.id < last_id)))
    rows = list((await session.execute(
        query.order_by(Case.received_at.desc(), Case.id.desc()).limit(page.limit + 1))).scalars())
    items, next_cursor = time_id_page(rows, page.limit, "received_at")
    return [row_dict(c) for c in items], next_cursor


# ----- workflow commands -------------------------------------------------------------------------------

async def load_for(session: AsyncSession, *, case_id: str, command: str) -> Case:
    """The case, locked, if its status takes ``command``; else a 409 naming status and allowed commands."""
    case = await get(session, case_id=case_id, for_update=True)
    if not workflow.allows(case.status, command, rated=case.rated):
        detail = None
        if command == "rate" and case.status in ("resolved", "closed") and case.rated:
            detail = f"resolution {case.resolution_no} of this case is already rated (once per resolution)"
        raise InvalidTransition(case_id=case.id, case_status=case.status, command=command,
                                allowed=workflow.allowed_commands(case.status, rated=case.rated), detail=detail)
    return case


def record(session: AsyncSession, case: Case, *, kind: str, actor: str, at: datetime, from_status: str | None = None,
           to_status: str | None = None, **details: Any) -> None:
    session.add(CaseActivity(case_id=case.id, kind=kind, actor=actor, at=at, from_status=from_status,
                             to_status=to_status, details=details))


def publish(session: AsyncSession, case: Case, event_class: type[events.CaseFacts], at: datetime,
            **fields: Any) -> None:
    add_event(session, event_class(**sla.case_facts(case), **fields), aggregate_id=case.id,
              customer_id=case.customer_id, occurred_at=at)


def move(session: AsyncSession, case: Case, *, command: str, actor: str, at: datetime, kind: str | None = None,
         **details: Any) -> str:
    """Set the status the command leads to and record it; the previous status."""
    before = case.status
    case.status = workflow.status_after(before, command)
    case.updated_at = at
    record(session, case, kind=kind or command, actor=actor, at=at, from_status=before,
           to_status=case.status if case.status != before else None, **details)
    return before


async def assign(session: AsyncSession, *, case_id: str, assignee_id: str, actor: str, now: datetime) -> Case:
    case = await load_for(session, case_id=case_id, command="assign")
    if case.assignee_id == assignee_id:
        return case  # the same assignment again changes nothing
    await _usable_employees(session, assignee_id=assignee_id, employee_id=None)
    previous = case.assignee_id
    case.assignee_id = assignee_id
    move(session, case, command="assign", actor=actor, at=now, kind="assigned", assignee_id=assignee_id,
         previous_assignee_id=previous)
    publish(session, case, events.CaseAssignedV1, now, previous_assignee_id=previous, assigned_by=actor,
            assigned_at=now)
    return case


async def start(session: AsyncSession, *, case_id: str, actor: str, now: datetime) -> Case:
    case = await load_for(session, case_id=case_id, command="start")
    move(session, case, command="start", actor=actor, at=now, kind="started")
    return case


async def wait(session: AsyncSession, *, case_id: str, actor: str, now: datetime) -> Case:
    """Waiting on the customer: the resolution clock pauses (the first-response clock does not)."""
    case = await load_for(session, case_id=case_id, command="wait")
    return await _wait(session, case, actor=actor, now=now)


async def _wait(session: AsyncSession, case: Case, *, actor: str, now: datetime) -> Case:
    calendar = await configuration.current_calendar(session)
    await sla.stop_or_pause(session, case=case, prefix="res", calendar=calendar, at=now, action="pause",
                            actor=actor)
    case.waiting_since = now
    move(session, case, command="wait", actor=actor, at=now, kind="waiting")
    publish(session, case, events.CaseWaitingV1, now, by=actor, waiting_since=now)
    return case


async def resume(session: AsyncSession, *, case_id: str, actor: str, now: datetime) -> Case:
    case = await load_for(session, case_id=case_id, command="resume")
    return await resume_loaded(session, case, actor=actor, now=now)


async def resume_loaded(session: AsyncSession, case: Case, *, actor: str, now: datetime,
                        kind: str = "resumed") -> Case:
    """The customer came back (or staff resumed): the resolution clock runs again."""
    calendar = await configuration.current_calendar(session)
    clock = sla.clock_of(case, "res")
    held_before = clock.held
    resumed = clock.resume(calendar, working_time.to_us(now))
    sla.set_clock(session, case, "res", resumed, calendar)
    waited = (resumed.held - held_before) // US
    case.waiting_since = None
    move(session, case, command="resume", actor=actor, at=now, kind=kind, waited_seconds=waited)
    publish(session, case, events.CaseResumedV1, now, by=actor, resumed_at=now, waited_working_seconds=waited)
    return case


async def reopen(session: AsyncSession, *, case_id: str, actor: str, now: datetime) -> Case:
    """Back to work: the resolution clock continues from the time already counted (a breach stays)."""
    case = await load_for(session, case_id=case_id, command="reopen")
    calendar = await configuration.current_calendar(session)
    clock = sla.clock_of(case, "res").restart(calendar, working_time.to_us(now))
    sla.set_clock(session, case, "res", clock, calendar)
    case.resolved_at, case.closed_at, case.rated = None, None, False
    move(session, case, command="reopen", actor=actor, at=now, kind="reopened",
         reopened_resolution_no=case.resolution_no)
    publish(session, case, events.CaseReopenedV1, now, reopened_resolution_no=case.resolution_no, by=actor,
            reopened_at=now)
    return case


async def close(session: AsyncSession, *, case_id: str, actor: str, now: datetime) -> Case:
    case = await load_for(session, case_id=case_id, command="close")
    case.closed_at = now
    move(session, case, command="close", actor=actor, at=now, kind="closed")
    publish(session, case, events.CaseClosedV1, now, by=actor, closed_at=now)
    return case
