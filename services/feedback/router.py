"""The feedback HTTP API: thin handlers that own the transaction and call the use cases.

Roles: support and managers handle cases (``service`` may also open cases and record ratings,
for web forms and survey tools); managers keep the categories, the SLA policy, the calendar and
the standards; analysts read cases and the statistics; every staff role acknowledges standards.
``admin`` may do anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from services.feedback.config import FeedbackSettings
from services.feedback.directory import OwnerDirectory
from services.feedback.errors import Unknown
from services.feedback.models import CaseResolution
from services.feedback.schemas import (
    ID_PATTERN,
    AcknowledgementCreate,
    AcknowledgementPublic,
    AcknowledgementStatus,
    AssignRequest,
    CalendarPublic,
    CalendarUpdate,
    CaseCreate,
    CaseDetail,
    CasePublic,
    CasesPage,
    CaseStats,
    CategoryCreate,
    CategoryPublic,
    CategoryUpdate,
    CitationsPage,
    CustomerRef,
    EmployeeId,
    ForeignId,
    LocalId,
    RatingCreate,
    ResolutionResult,
    ResolveRequest,
    ResponseCreate,
    ResponseResult,
    SlaPolicyPublic,
    SlaPolicyUpdate,
    StandardCreate,
    StandardDetail,
    StandardPublic,
    StandardsPage,
    StandardVersionCreate,
    StandardVersionPublic,
)
from services.feedback.use_cases import (
    cases,
    categories,
    configuration,
    replicas,
    resolutions,
    responses,
    standards,
    stats,
)
from services.feedback.use_cases.replicas import ReplicaMiss
from shared.clients.replica_fallback import ReplicaFallback, retry_after_learning
from shared.db.engine import Database
from shared.db.types import utcnow
from shared.events.contracts.feedback import CaseKind, CasePriority, CaseStatus, StandardKind
from shared.http import idempotency
from shared.http.app import DbDep
from shared.http.auth import Principal, require_roles
from shared.http.errors import DependencyUnavailable, Unprocessable
from shared.http.inputs import Instant, QueryBool
from shared.http.openapi import problems
from shared.http.pagination import PageParams, page_params
from shared.staff.http import StaffDep

router = APIRouter()

Staff = Annotated[Principal, Depends(require_roles("manager", "support"))]
Intake = Annotated[Principal, Depends(require_roles("manager", "support", "service"))]
Reader = Annotated[Principal, Depends(require_roles("manager", "support", "analyst", "service"))]
Lead = Annotated[Principal, Depends(require_roles("manager"))]
Analysis = Annotated[Principal, Depends(require_roles("manager", "analyst"))]
Employee = Annotated[Principal, Depends(require_roles("manager", "support", "analyst"))]
Paging = Annotated[PageParams, Depends(page_params)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
CaseId = Annotated[str, Path(min_length=1, max_length=36, pattern=ID_PATTERN, description="case id")]
CategoryId = Annotated[str, Path(min_length=1, max_length=36, pattern=ID_PATTERN, description="category id")]
StandardId = Annotated[str, Path(min_length=1, max_length=36, pattern=ID_PATTERN, description="standard id")]
VersionNo = Annotated[int, Path(ge=1, le=1_000_000, description="version number")]
STATS_RANGE_MAX = timedelta(days=3 * 366)


def settings_of(request: Request) -> FeedbackSettings:
    return request.app.state.runtime.settings


def directory_of(request: Request) -> OwnerDirectory:
    return request.app.state.owner_directory


SettingsDep = Annotated[FeedbackSettings, Depends(settings_of)]
DirectoryDep = Annotated[OwnerDirectory, Depends(directory_of)]


# ----- cases ------------------------------------------------------------------------------------

case_routes = APIRouter(tags=["cases"])


async def _learn(db: Database, directory: OwnerDirectory, miss: ReplicaMiss) -> None:
    """Ask the owners about what the replicas lack (concurrently, outside any transaction), keep the answers."""
    missing = miss.missing

    async def nothing() -> None:
        return None

    customer, order, product = await asyncio.gather(
        directory.customer(missing.customer_id) if missing.customer_id else nothing(),
        directory.order(missing.order_id) if missing.order_id else nothing(),
        directory.product(missing.product_id) if missing.product_id else nothing(),
    )
    if missing.customer_id and customer is None:
        raise Unknown("customer_id", missing.customer_id,
                      f"no customer {missing.customer_id}: the customers service does not know this id")
    if missing.order_id and order is None:
        raise Unknown("order_id", missing.order_id,
                      f"no order {missing.order_id}: the orders service does not know this id")
    if missing.product_id and product is None:
        raise Unknown("product_id", missing.product_id,
                      f"no product {missing.product_id}: the orders service does not know this id")
    async with db.transaction() as session:
        if customer is not None:
            await replicas.apply_customer_state(
                session, customer_id=customer.customer_id, status=customer.status, state_at=customer.observed_at,
                source="http", segment=customer.segment, merged_into_id=customer.merged_into_id,
                revision=customer.revision)
        if order is not None:
            await replicas.apply_order_state(session, order_id=order.order_id, customer_id=order.customer_id,
                                             status=order.status, lines=order.lines, state_at=order.observed_at,
                                             source="http")
        if product is not None:
            await replicas.apply_product_state(session, product_id=product.product_id, name=product.name,
                                               category=product.category, active=product.active,
                                               state_at=product.observed_at, source="http")


async def _case_view(db: Database, case_id: str) -> CasePublic:
    async with db.transaction() as session:
        case = cases.row_dict(await cases.get(session, case_id=case_id))
        [view] = await cases.publics(session, [case], now=utcnow())
    return CasePublic.model_validate(view)


@case_routes.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CasePublic,
                  responses=problems(409, 410, 422, 503),
                  summary="Open a case (retry safely with Idempotency-Key)")
async def open_case(body: CaseCreate, db: DbDep, settings: SettingsDep, directory: DirectoryDep, who: Intake,
                    staff: StaffDep, response: Response, idempotency_key: IdempotencyKey = None) -> CasePublic:
    scope = f"feedback.cases:{who.subject}"
    await staff.require(db, {"employee_id": body.employee_id, "assignee_id": body.assignee_id})
    fingerprint = idempotency.fingerprint(body.model_dump(mode="json"))

    async def open_or_replay() -> CasePublic:
        async with db.transaction() as session:
            stored = None
            if idempotency_key is not None:
                stored = await idempotency.begin(session, scope=scope, key=idempotency_key,
                                                 request_fingerprint=fingerprint)
            if stored is None:
                now = utcnow()
                values = await cases.open_case(session, data=body, actor=who.subject,
                                               currency=settings.default_currency, now=now)
                if idempotency_key is not None:
                    # Only the id is kept: the stored answer holds no personal text for erasure to miss,
                    # and a replay shows the case as it is now.
                    await idempotency.complete(session, scope=scope, key=idempotency_key, status_code=201,
                                               body={"id": values["id"]})
                public = cases.public(values, calendar=values["_calendar"], now=now,
                                      known_employees=values["_known"])
        if stored is not None:
            replay_id = stored.body["id"]
            response.headers["Location"] = f"/cases/{replay_id}"
            return await _case_view(db, replay_id)
        response.headers["Location"] = f"/cases/{public['id']}"
        return CasePublic.model_validate(public)

    # Only opening the case misses (a customer, order or product the replicas have not heard of).
    return await retry_after_learning(open_or_replay, ReplicaFallback(
        ReplicaMiss, learn=lambda miss: _learn(db, directory, miss),
        exhausted=lambda _: DependencyUnavailable("the owners' answers could not be kept in the replicas; try again",
                                                  dependency="replicas")))


@case_routes.get("/cases", response_model=CasesPage, responses=problems(422), summary="Find cases, newest first")
async def list_cases(
    db: DbDep, _: Reader, page: Paging,
    kind: Annotated[CaseKind | None, Query()] = None,
    case_status: Annotated[CaseStatus | None, Query(alias="status")] = None,
    category_id: Annotated[LocalId | None, Query(description="this category and its subtree")] = None,
    priority: Annotated[CasePriority | None, Query()] = None,
    assignee_id: Annotated[EmployeeId | None, Query()] = None,
    customer_id: Annotated[CustomerRef | None, Query()] = None,
    order_id: Annotated[ForeignId | None, Query()] = None,
    product_id: Annotated[ForeignId | None, Query()] = None,
    sla_state: Annotated[str | None, Query(pattern="^(on_track|at_risk|breached)$")] = None,
    created_from: Annotated[Instant | None, Query(description="received at or after (inclusive)")] = None,
    created_to: Annotated[Instant | None, Query(description="received before (exclusive)")] = None,
) -> CasesPage:
    now = utcnow()
    async with db.transaction() as session:
        rows, next_cursor = await cases.list_cases(
            session, page=page, now=now, kind=kind, status=case_status, category_id=category_id, priority=priority,
            assignee_id=assignee_id, customer_id=customer_id, order_id=order_id, product_id=product_id,
            sla_state=sla_state, received_from=created_from, received_to=created_to)
        views = await cases.publics(session, rows, now=now)
    return CasesPage(items=[CasePublic.model_validate(v) for v in views], next_cursor=next_cursor)


@case_routes.get("/cases/stats", response_model=CaseStats, responses=problems(422),
                 summary="Figures of the cases received in [from, to): counts, response and resolution times, "
                         "breach rates, CSAT, compensation")
async def case_stats(
    db: DbDep, _: Analysis,
    received_from: Annotated[Instant | None, Query(alias="from", description="default: 30 days before `to`")] = None,
    received_to: Annotated[Instant | None, Query(alias="to", description="default: now")] = None,
) -> CaseStats:
    end = received_to or utcnow()
    start = received_from or end - timedelta(days=30)
    if start >= end:
        raise Unprocessable("`from` must be before `to`", field="from")
    if end - start > STATS_RANGE_MAX:
        raise Unprocessable("the period may be at most three years", field="from")
    async with db.transaction() as session:
        figures = await stats.compute(session, start=start, end=end)
    return CaseStats.model_validate(figures)


@case_routes.get("/cases/{case_id}", response_model=CaseDetail, responses=problems(404),
                 summary="One case with its whole timeline, responses and resolutions")
async def get_case(case_id: CaseId, db: DbDep, _: Reader) -> CaseDetail:
    async with db.transaction() as session:
        view = await cases.detail(session, case_id=case_id, now=utcnow())
    return CaseDetail.model_validate(view, from_attributes=True)


async def _command(db: Database, run: Callable[[Any, datetime], Awaitable[Any]]) -> CasePublic:
    now = utcnow()
    async with db.transaction() as session:
        case = await run(session, now)
        [view] = await cases.publics(session, [cases.row_dict(case)], now=now)
    return CasePublic.model_validate(view)


@case_routes.post("/cases/{case_id}/assign", response_model=CasePublic, responses=problems(404, 409, 422),
                  summary="Assign (or reassign) the case to an employee")
async def assign(case_id: CaseId, body: AssignRequest, db: DbDep, staff: StaffDep, who: Staff) -> CasePublic:
    await staff.require(db, {"assignee_id": body.assignee_id})
    return await _command(db, lambda s, now: cases.assign(s, case_id=case_id, assignee_id=body.assignee_id,
                                                          actor=who.subject, now=now))


@case_routes.post("/cases/{case_id}/start", response_model=CasePublic, responses=problems(404, 409),
                  summary="Start working on an assigned case")
async def start(case_id: CaseId, db: DbDep, who: Staff) -> CasePublic:
    return await _command(db, lambda s, now: cases.start(s, case_id=case_id, actor=who.subject, now=now))


@case_routes.post("/cases/{case_id}/wait", response_model=CasePublic, responses=problems(404, 409),
                  summary="Wait on the customer (the resolution clock pauses)")
async def wait(case_id: CaseId, db: DbDep, who: Staff) -> CasePublic:
    return await _command(db, lambda s, now: cases.wait(s, case_id=case_id, actor=who.subject, now=now))


@case_routes.post("/cases/{case_id}/resume", response_model=CasePublic, responses=problems(404, 409),
                  summary="The customer came back (the resolution clock runs again)")
async def resume(case_id: CaseId, db: DbDep, who: Staff) -> CasePublic:
    return await _command(db, lambda s, now: cases.resume(s, case_id=case_id, actor=who.subject, now=now))


@case_routes.post("/cases/{case_id}/reopen", response_model=CasePublic, responses=problems(404, 409),
                  summary="Reopen a resolved or closed case")
async def reopen(case_id: CaseId, db: DbDep, who: Staff) -> CasePublic:
    return await _command(db, lambda s, now: cases.reopen(s, case_id=case_id, actor=who.subject, now=now))


@case_routes.post("/cases/{case_id}/close", response_model=CasePublic, responses=problems(404, 409),
                  summary="Close a resolved case")
async def close(case_id: CaseId, db: DbDep, who: Staff) -> CasePublic:
    return await _command(db, lambda s, now: cases.close(s, case_id=case_id, actor=who.subject, now=now))


@case_routes.post("/cases/{case_id}/responses", status_code=status.HTTP_201_CREATED, response_model=ResponseResult,
                  responses=problems(404, 409, 422),
                  summary="Reply to the customer, add an internal note, or record what the customer said")
async def respond(case_id: CaseId, body: ResponseCreate, db: DbDep, who: Staff) -> ResponseResult:
    now = utcnow()
    async with db.transaction() as session:
        case, answer = await responses.respond(session, case_id=case_id, data=body, actor=who.subject, now=now)
        [view] = await cases.publics(session, [cases.row_dict(case)], now=now)
    return ResponseResult.model_validate({"response": answer, "case": view}, from_attributes=True)


async def _resolution_result(session: Any, case: Any, resolution: CaseResolution, now: datetime) -> ResolutionResult:
    [view] = await cases.publics(session, [cases.row_dict(case)], now=now)
    return ResolutionResult.model_validate({"resolution": cases.resolution_public(resolution), "case": view})


@case_routes.post("/cases/{case_id}/resolve", response_model=ResolutionResult, responses=problems(404, 409, 422),
                  summary="Resolve with outcome and compensation (stops the resolution clock)")
async def resolve(case_id: CaseId, body: ResolveRequest, db: DbDep, settings: SettingsDep,
                  who: Staff) -> ResolutionResult:
    now = utcnow()
    async with db.transaction() as session:
        case, resolution = await resolutions.resolve(session, case_id=case_id, data=body, actor=who.subject,
                                                     currency=settings.default_currency, now=now)
        return await _resolution_result(session, case, resolution, now)


@case_routes.post("/cases/{case_id}/rating", response_model=ResolutionResult, responses=problems(404, 409, 422),
                  summary="The customer's rating (CSAT 1-5) of the latest resolution, once per resolution")
async def rate(case_id: CaseId, body: RatingCreate, db: DbDep, who: Intake) -> ResolutionResult:
    now = utcnow()
    async with db.transaction() as session:
        case = await resolutions.rate(session, case_id=case_id, data=body, actor=who.subject, now=now)
        resolution = await session.get(CaseResolution, (case.id, case.resolution_no), populate_existing=True)
        assert resolution is not None
        return await _resolution_result(session, case, resolution, now)


# ----- categories ---------------------------------------------------------------------------------

category_routes = APIRouter(tags=["categories"])


@category_routes.get("/categories", response_model=list[CategoryPublic], summary="The category tree, by path")
async def list_categories(db: DbDep, _: Reader,
                          include_retired: Annotated[QueryBool, Query()] = False) -> list[CategoryPublic]:
    async with db.transaction() as session:
        rows = await categories.list_all(session, include_retired=include_retired)
    return [CategoryPublic.model_validate(categories.public(r)) for r in rows]


@category_routes.post("/categories", status_code=status.HTTP_201_CREATED, response_model=CategoryPublic,
                      responses=problems(409, 422), summary="Add a category (under a parent, or at the root)")
async def create_category(body: CategoryCreate, db: DbDep, who: Lead, response: Response) -> CategoryPublic:
    async with db.transaction() as session:
        row = await categories.create(session, data=body, actor=who.subject)
    response.headers["Location"] = f"/categories/{row.id}"
    return CategoryPublic.model_validate(categories.public(row))


@category_routes.patch("/categories/{category_id}", response_model=CategoryPublic,
                       responses=problems(404, 409, 422), summary="Rename, move or retire a category")
async def change_category(category_id: CategoryId, body: CategoryUpdate, db: DbDep, who: Lead) -> CategoryPublic:
    async with db.transaction() as session:
        row = await categories.change(session, category_id=category_id, data=body, actor=who.subject)
    return CategoryPublic.model_validate(categories.public(row))


# ----- SLA policy and calendar --------------------------------------------------------------------

sla_routes = APIRouter(tags=["sla"])


@sla_routes.get("/sla-policies", response_model=SlaPolicyPublic, summary="The SLA policy in force")
async def get_policy(db: DbDep, _: Reader) -> SlaPolicyPublic:
    async with db.transaction() as session:
        row = await configuration.policy_row(session)
    return SlaPolicyPublic.model_validate(configuration.policy_public(configuration.policy_of(row), row))


@sla_routes.put("/sla-policies", response_model=SlaPolicyPublic, responses=problems(409, 422),
                summary="A new version of the SLA policy (applies to cases opened from now on)")
async def put_policy(body: SlaPolicyUpdate, db: DbDep, who: Lead) -> SlaPolicyPublic:
    async with db.transaction() as session:
        policy, row = await configuration.put_policy(session, data=body, actor=who.subject)
    return SlaPolicyPublic.model_validate(configuration.policy_public(policy, row))


def _calendar_public(version: int, spec: dict[str, Any], row: Any) -> CalendarPublic:
    calendar = configuration.calendar_of(spec)
    today = utcnow().astimezone(calendar.zone).date()
    return CalendarPublic.model_validate({
        "version": version, "time_zone": spec["time_zone"],
        "week": {day: [{"start": s, "end": e} for s, e in windows] for day, windows in spec["week"].items()},
        "holidays": [{"date": h["date"], "name": h.get("name")} for h in spec["holidays"]],
        "country": spec["country"], "subdivision": spec["subdivision"],
        "upcoming_holidays": [{"date": d, "name": n} for d, n in configuration.upcoming_holidays(calendar,
                                                                                                  today=today)],
        "created_by": row.created_by if row else None, "created_at": row.created_at if row else None})


@sla_routes.get("/calendar", response_model=CalendarPublic, summary="The working calendar in force")
async def get_calendar(db: DbDep, _: Reader) -> CalendarPublic:
    async with db.transaction() as session:
        version, spec, row = await configuration.calendar_row(session)
    return _calendar_public(version, spec, row)


@sla_routes.put("/calendar", response_model=CalendarPublic, responses=problems(409, 422),
                summary="A new working calendar (running clocks keep what they counted and are re-planned)")
async def put_calendar(body: CalendarUpdate, db: DbDep, who: Lead) -> CalendarPublic:
    async with db.transaction() as session:
        version, spec, row = await configuration.put_calendar(session, data=body, actor=who.subject)
    return _calendar_public(version, spec, row)


# ----- standards ------------------------------------------------------------------------------------

standard_routes = APIRouter(tags=["standards"])


def _standard_public(standard: Any, in_force: int | None) -> dict[str, Any]:
    return {"id": standard.id, "kind": standard.kind, "title": standard.title, "owner_id": standard.owner_id,
            "required_roles": standard.required_roles, "latest_version": standard.latest_version,
            "version_in_force": in_force, "created_by": standard.created_by, "created_at": standard.created_at,
            "updated_at": standard.updated_at}


async def _standard_detail(session: Any, standard: Any, now: datetime) -> StandardDetail:
    current = await standards.version_in_force(session, standard_id=standard.id, now=now)
    view = _standard_public(standard, current.version if current else None)
    view["current"] = StandardVersionPublic.model_validate(current, from_attributes=True) if current else None
    view["versions"] = await standards.version_numbers(session, standard.id)
    return StandardDetail.model_validate(view)


@standard_routes.post("/standards", status_code=status.HTTP_201_CREATED, response_model=StandardDetail,
                      responses=problems(422), summary="A new service-quality standard with its first version")
async def create_standard(body: StandardCreate, db: DbDep, who: Lead, response: Response) -> StandardDetail:
    now = utcnow()
    async with db.transaction() as session:
        standard, _version = await standards.create(session, data=body, actor=who.subject, now=now)
        await session.flush()
        detail = await _standard_detail(session, standard, now)
    response.headers["Location"] = f"/standards/{standard.id}"
    return detail


@standard_routes.get("/standards", response_model=StandardsPage, responses=problems(422),
                     summary="The standards, newest first")
async def list_standards(db: DbDep, _: Employee, page: Paging,
                         kind: Annotated[StandardKind | None, Query()] = None) -> StandardsPage:
    now = utcnow()
    async with db.transaction() as session:
        rows, next_cursor = await standards.list_standards(session, page=page, kind=kind)
        in_force = await standards.versions_in_force(session, [r.id for r in rows], now)
    return StandardsPage(items=[StandardPublic.model_validate(_standard_public(r, in_force.get(r.id)))
                                for r in rows], next_cursor=next_cursor)


@standard_routes.get("/standards/{standard_id}", response_model=StandardDetail, responses=problems(404),
                     summary="A standard and its version in force")
async def get_standard(standard_id: StandardId, db: DbDep, _: Employee) -> StandardDetail:
    now = utcnow()
    async with db.transaction() as session:
        return await _standard_detail(session, await standards.get(session, standard_id=standard_id), now)


@standard_routes.post("/standards/{standard_id}/versions", status_code=status.HTTP_201_CREATED,
                      response_model=StandardVersionPublic, responses=problems(404, 422),
                      summary="Publish a new version with its effective date")
async def publish_version(standard_id: StandardId, body: StandardVersionCreate, db: DbDep, who: Lead,
                          response: Response) -> StandardVersionPublic:
    async with db.transaction() as session:
        _standard, version = await standards.publish_version(session, standard_id=standard_id, data=body,
                                                             actor=who.subject, now=utcnow())
    response.headers["Location"] = f"/standards/{standard_id}/versions/{version.version}"
    return StandardVersionPublic.model_validate(version, from_attributes=True)


@standard_routes.get("/standards/{standard_id}/versions/{version}", response_model=StandardVersionPublic,
                     responses=problems(404), summary="One version (old versions stay readable)")
async def get_version(standard_id: StandardId, version: VersionNo, db: DbDep, _: Employee) -> StandardVersionPublic:
    async with db.transaction() as session:
        row = await standards.get_version(session, standard_id=standard_id, version=version)
    return StandardVersionPublic.model_validate(row, from_attributes=True)


@standard_routes.post("/standards/{standard_id}/acknowledgements", response_model=AcknowledgementPublic,
                      status_code=status.HTTP_201_CREATED,
                      responses={200: {"description": "Already acknowledged: the first record"},
                                 **problems(404, 409, 422)},
                      summary="Record that an employee read and accepted the version in force (once per version)")
async def acknowledge(standard_id: StandardId, db: DbDep, who: Employee, staff: StaffDep, response: Response,
                      body: AcknowledgementCreate | None = None) -> AcknowledgementPublic:
    # Only someone in the staff directory acknowledges (the caller, or whom a manager names).
    await staff.require(db, {"employee_id": (body.employee_id if body else None) or who.subject})
    now = utcnow()
    async with db.transaction() as session:
        row, created = await standards.acknowledge(
            session, standard_id=standard_id, data=body or AcknowledgementCreate(), actor=who.subject,
            may_record_for_others=who.has_any(frozenset({"manager"})), now=now)
        verified = bool(await replicas.employees(session, {row.employee_id}))
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return AcknowledgementPublic.model_validate({**row.model_dump(), "employee_verified": verified})


@standard_routes.get("/standards/{standard_id}/acknowledgements", response_model=AcknowledgementStatus,
                     responses=problems(404),
                     summary="Who has and who has not acknowledged the version in force, among those who must")
async def acknowledgement_status(standard_id: StandardId, db: DbDep, _: Lead) -> AcknowledgementStatus:
    async with db.transaction() as session:
        view = await standards.acknowledgement_status(session, standard_id=standard_id, now=utcnow())
    return AcknowledgementStatus.model_validate(view)


@standard_routes.get("/standards/{standard_id}/citations", response_model=CitationsPage, responses=problems(404, 422),
                     summary="The cases whose responses or resolutions cited this standard")
async def citations(standard_id: StandardId, db: DbDep, _: Reader, page: Paging) -> CitationsPage:
    async with db.transaction() as session:
        rows, next_cursor = await standards.citations(session, standard_id=standard_id, page=page)
    return CitationsPage.model_validate({"items": rows, "next_cursor": next_cursor})


router.include_router(case_routes)
router.include_router(category_routes)
router.include_router(sla_routes)
router.include_router(standard_routes)
