"""The incentives HTTP API: thin handlers that own the transaction and call the use cases.

Roles: managers (heads of sales) keep the directory, weights, plans, gifts and awards and close
periods; only admin changes the bonus policy (it decides money); analysts and other services
read; support reads the directory, the catalogue, the leaderboard and the recognition wall.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from services.incentives.config import IncentivesSettings
from services.incentives.rules.periods import PERIOD_PATTERN, period_of
from services.incentives.schemas import (
    ID_PATTERN,
    AwardCreate,
    AwardKind,
    AwardPublic,
    AwardsPage,
    BonusPolicyPublic,
    BonusPolicyPut,
    Category,
    ContributionLinePublic,
    ContributionLinesPage,
    ContributionsReport,
    EmployeeCreate,
    EmployeePublic,
    EmployeeRole,
    EmployeesPage,
    EmployeeUpdate,
    GiftCreate,
    GiftPublic,
    GiftsPage,
    GiftUpdate,
    Leaderboard,
    PeriodClosePublic,
    PlanPublic,
    PlanPut,
    ProductsPage,
    WeightPublic,
    WeightSet,
)
from services.incentives.use_cases import (
    awards,
    bonus_policy,
    contributions,
    employees,
    gifts,
    periods,
    plans,
    products,
)
from services.incentives.use_cases.common import parse_period
from shared.db.types import utcnow
from shared.http import idempotency
from shared.http.app import DbDep
from shared.http.auth import Principal, require_roles
from shared.http.inputs import QueryBool
from shared.http.openapi import problems
from shared.http.pagination import PageParams, page_params

router = APIRouter()

Manager = Annotated[Principal, Depends(require_roles("manager"))]
Admin = Annotated[Principal, Depends(require_roles())]
Reader = Annotated[Principal, Depends(require_roles("manager", "support", "analyst", "service"))]
FiguresReader = Annotated[Principal, Depends(require_roles("manager", "analyst", "service"))]
Paging = Annotated[PageParams, Depends(page_params)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
EmployeeId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="employee id")]
ProductId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="product id")]
GiftId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="gift id")]
PeriodPath = Annotated[str, Path(pattern=PERIOD_PATTERN, description="a month, YYYY-MM")]
PeriodQuery = Annotated[str, Query(pattern=PERIOD_PATTERN, description="a month, YYYY-MM")]
IdQuery = Annotated[str, Query(min_length=1, max_length=64, pattern=ID_PATTERN)]


async def settings_of(request: Request) -> IncentivesSettings:
    return request.app.state.runtime.settings


SettingsDep = Annotated[IncentivesSettings, Depends(settings_of)]


# ----- the staff directory ----------------------------------------------------------------------

directory = APIRouter(tags=["staff directory"])


@directory.post("/employees", status_code=status.HTTP_201_CREATED, response_model=EmployeePublic,
                responses=problems(409, 422), summary="Add an employee to the staff directory")
async def create_employee(body: EmployeeCreate, db: DbDep, settings: SettingsDep, who: Manager,
                          response: Response) -> EmployeePublic:
    async with db.transaction() as session:
        employee = await employees.create_employee(session, data=body, actor=who.subject, now=utcnow(),
                                                   zone=settings.zone)
    response.headers["Location"] = f"/employees/{employee.id}"
    return EmployeePublic.model_validate(employee)


@directory.get("/employees", response_model=EmployeesPage, responses=problems(422), summary="The staff directory")
async def list_employees(db: DbDep, _: Reader, page: Paging,
                         role: Annotated[EmployeeRole | None, Query()] = None,
                         team: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
                         active: Annotated[QueryBool | None, Query()] = None) -> EmployeesPage:
    async with db.transaction() as session:
        rows, next_cursor = await employees.list_employees(session, page=page, role=role, team=team, active=active)
    return EmployeesPage(items=[EmployeePublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@directory.get("/employees/{employee_id}", response_model=EmployeePublic, responses=problems(404, 422),
               summary="One employee")
async def get_employee(employee_id: EmployeeId, db: DbDep, _: Reader) -> EmployeePublic:
    async with db.transaction() as session:
        return EmployeePublic.model_validate(await employees.get_employee(session, employee_id=employee_id))


@directory.patch("/employees/{employee_id}", response_model=EmployeePublic, responses=problems(404, 409, 422),
                 summary="Change an employee; left_on or active false records a departure (history kept)")
async def update_employee(employee_id: EmployeeId, body: EmployeeUpdate, db: DbDep, settings: SettingsDep,
                          who: Manager) -> EmployeePublic:
    async with db.transaction() as session:
        employee = await employees.update_employee(session, employee_id=employee_id, data=body, actor=who.subject,
                                                   now=utcnow(), zone=settings.zone)
    return EmployeePublic.model_validate(employee)


# ----- products and weights ----------------------------------------------------------------------

catalogue = APIRouter(tags=["product weights"])


@catalogue.get("/products", response_model=ProductsPage, responses=problems(422),
               summary="Products with the weight and locomotive flag in force now, and the next scheduled change")
async def list_products(db: DbDep, _: Reader, page: Paging,
                        category: Annotated[Category | None, Query()] = None,
                        locomotive: Annotated[QueryBool | None, Query()] = None) -> ProductsPage:
    async with db.transaction() as session:
        items, next_cursor = await products.list_products(session, page=page, now=utcnow(), category=category,
                                                          locomotive=locomotive)
    return ProductsPage(items=items, next_cursor=next_cursor)


@catalogue.put("/products/{product_id}/weight", response_model=WeightPublic, responses=problems(404, 422),
               summary="Set a weight and locomotive flag from a date on (tomorrow at the earliest)")
async def set_weight(product_id: ProductId, body: WeightSet, db: DbDep, settings: SettingsDep,
                     who: Manager) -> WeightPublic:
    async with db.transaction() as session:
        row = await products.set_weight(session, product_id=product_id, data=body, actor=who.subject, now=utcnow(),
                                        zone=settings.zone)
    return products.weight_public(product_id, row)


@catalogue.get("/products/{product_id}/weights", response_model=list[WeightPublic], responses=problems(404, 422),
               summary="A product's weight history, the latest effective date first")
async def weight_history(product_id: ProductId, db: DbDep, _: Reader) -> list[WeightPublic]:
    async with db.transaction() as session:
        rows = await products.weight_history(session, product_id=product_id)
    return [products.weight_public(product_id, r) for r in rows]


# ----- plans, contributions, leaderboard, periods -------------------------------------------------

figures = APIRouter(tags=["plans and contributions"])


@figures.put("/plans/{period}", response_model=PlanPublic, responses=problems(409, 422),
             summary="Replace a period's plan: company and personal targets in weighted points")
async def put_plan(period: PeriodPath, body: PlanPut, db: DbDep, who: Manager) -> PlanPublic:
    async with db.transaction() as session:
        return await plans.put_plan(session, period_text=period, data=body, actor=who.subject, now=utcnow())


@figures.get("/plans/{period}", response_model=PlanPublic, responses=problems(422), summary="A period's plan")
async def get_plan(period: PeriodPath, db: DbDep, _: FiguresReader) -> PlanPublic:
    async with db.transaction() as session:
        return await plans.get_plan(session, period_text=period)


@figures.get("/periods/{period}/contributions", response_model=ContributionsReport, responses=problems(422),
             summary="Per employee: net sales, weighted points, locomotive sales, share of the company plan, "
                     "fulfilment, quality measures, bonus (projected while open, final once closed)")
async def get_contributions(period: PeriodPath, db: DbDep, settings: SettingsDep,
                            _: FiguresReader) -> ContributionsReport:
    async with db.transaction() as session:
        return await contributions.build_report(session, period=parse_period(period), zone=settings.zone,
                                                currency=settings.currency)


@figures.get("/periods/{period}/lines", response_model=ContributionLinesPage, responses=problems(422),
             summary="The counted line movements of a period, adjustments (late events of closed periods) marked")
async def get_lines(period: PeriodPath, db: DbDep, _: FiguresReader, page: Paging,
                    employee_id: Annotated[str | None, Query(min_length=1, max_length=64,
                                                             pattern=ID_PATTERN)] = None) -> ContributionLinesPage:
    async with db.transaction() as session:
        rows, next_cursor = await contributions.list_lines(session, period_text=period, page=page,
                                                           employee_id=employee_id)
    return ContributionLinesPage(items=[ContributionLinePublic.model_validate(r) for r in rows],
                                 next_cursor=next_cursor)


@figures.get("/leaderboard", response_model=Leaderboard, responses=problems(422),
             summary="Ranked by weighted points; ties: fewer complaints, higher CSAT, earlier hire date")
async def get_leaderboard(db: DbDep, settings: SettingsDep, _: Reader,
                          period: Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                                              description="default: the current month")] = None,
                          ) -> Leaderboard:
    chosen = parse_period(period) if period else period_of(utcnow(), settings.zone)
    async with db.transaction() as session:
        report = await contributions.build_report(session, period=chosen, zone=settings.zone,
                                                  currency=settings.currency)
    return contributions.leaderboard_of(report)


@figures.post("/periods/{period}/close", response_model=PeriodClosePublic, responses=problems(409, 422),
              summary="Close a finished month: bonuses, the best employee's recognition, frozen figures")
async def close_period(period: PeriodPath, db: DbDep, settings: SettingsDep, who: Manager) -> PeriodClosePublic:
    async with db.transaction() as session:
        state, granted = await periods.close_period(session, period_text=period, actor=who.subject, now=utcnow(),
                                                    zone=settings.zone, currency=settings.currency)
    assert state.closed_at is not None and state.closed_by is not None
    return PeriodClosePublic(period=state.period, status=state.status, closed_at=state.closed_at,
                             closed_by=state.closed_by, bonus_policy_version=state.bonus_policy_version,
                             best_employee_id=state.best_employee_id,
                             awards=[AwardPublic.model_validate(a) for a in granted])


# ----- bonus policy --------------------------------------------------------------------------

policy = APIRouter(tags=["bonus policy"])


@policy.get("/bonus-policy", response_model=BonusPolicyPublic, responses=problems(404, 422),
            summary="The bonus policy in force for a period (default: the current month)")
async def get_bonus_policy(db: DbDep, settings: SettingsDep, _: FiguresReader,
                           period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None) -> BonusPolicyPublic:
    chosen = period or str(period_of(utcnow(), settings.zone))
    async with db.transaction() as session:
        return BonusPolicyPublic.model_validate(
            (await bonus_policy.get_policy(session, period_text=chosen)).model_dump())


@policy.get("/bonus-policy/versions", response_model=list[BonusPolicyPublic], responses=problems(),
            summary="Every version of the bonus policy, the newest first")
async def bonus_policy_versions(db: DbDep, _: FiguresReader) -> list[BonusPolicyPublic]:
    async with db.transaction() as session:
        rows = await bonus_policy.list_versions(session)
    return [BonusPolicyPublic.model_validate(r.model_dump()) for r in rows]


@policy.put("/bonus-policy", response_model=BonusPolicyPublic, responses=problems(409, 422),
            summary="A new version of the bonus policy, in force from a period on (admin)")
async def put_bonus_policy(body: BonusPolicyPut, db: DbDep, settings: SettingsDep, who: Admin) -> BonusPolicyPublic:
    async with db.transaction() as session:
        row = await bonus_policy.put_policy(session, data=body, actor=who.subject, now=utcnow(),
                                            currency=settings.currency)
    return BonusPolicyPublic.model_validate(row.model_dump())


# ----- gifts, awards, recognitions ---------------------------------------------------------------

rewards = APIRouter(tags=["rewards"])


@rewards.post("/gifts", status_code=status.HTTP_201_CREATED, response_model=GiftPublic, responses=problems(422),
              summary="Add a gift (personal items, clothing and jewellery are refused, naming the rule)")
async def create_gift(body: GiftCreate, db: DbDep, settings: SettingsDep, who: Manager,
                      response: Response) -> GiftPublic:
    async with db.transaction() as session:
        gift = await gifts.create_gift(session, data=body, actor=who.subject, now=utcnow(), currency=settings.currency)
    response.headers["Location"] = f"/gifts/{gift.id}"
    return GiftPublic.model_validate(gift)


@rewards.get("/gifts", response_model=GiftsPage, responses=problems(422), summary="The gift catalogue")
async def list_gifts(db: DbDep, _: Reader, page: Paging, category: Annotated[Category | None, Query()] = None,
                     active: Annotated[QueryBool | None, Query()] = None) -> GiftsPage:
    async with db.transaction() as session:
        rows, next_cursor = await gifts.list_gifts(session, page=page, category=category, active=active)
    return GiftsPage(items=[GiftPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@rewards.get("/gifts/{gift_id}", response_model=GiftPublic, responses=problems(404, 422), summary="One gift")
async def get_gift(gift_id: GiftId, db: DbDep, _: Reader) -> GiftPublic:
    async with db.transaction() as session:
        return GiftPublic.model_validate(await gifts.get_gift(session, gift_id=gift_id))


@rewards.patch("/gifts/{gift_id}", response_model=GiftPublic, responses=problems(404, 422),
               summary="Change a gift (the gift policy is checked again)")
async def update_gift(gift_id: GiftId, body: GiftUpdate, db: DbDep, _: Manager) -> GiftPublic:
    async with db.transaction() as session:
        return GiftPublic.model_validate(await gifts.update_gift(session, gift_id=gift_id, data=body, now=utcnow()))


@rewards.post("/awards", status_code=status.HTTP_201_CREATED, response_model=AwardPublic,
              responses=problems(409, 422),
              summary="Grant cash, a catalogue gift or a recognition for an open period (retry with Idempotency-Key)")
async def grant_award(body: AwardCreate, db: DbDep, settings: SettingsDep, who: Manager, response: Response,
                      idempotency_key: IdempotencyKey = None) -> AwardPublic:
    scope = f"incentives.award:{who.subject}"
    async with db.transaction() as session:
        if idempotency_key is not None:
            stored = await idempotency.begin(session, scope=scope, key=idempotency_key,
                                             request_fingerprint=idempotency.fingerprint(body.model_dump(mode="json")))
            if stored is not None:
                response.status_code = stored.status_code
                return AwardPublic.model_validate(stored.body)
        award = await awards.grant_award(session, data=body, actor=who.subject, now=utcnow(),
                                         currency=settings.currency)
        public = AwardPublic.model_validate(award)
        if idempotency_key is not None:
            await idempotency.complete(session, scope=scope, key=idempotency_key, status_code=201,
                                       body=public.model_dump(mode="json"))
    response.headers["Location"] = f"/awards?employee_id={award.employee_id}"
    return public


@rewards.get("/awards", response_model=AwardsPage, responses=problems(422), summary="Awards, newest first")
async def list_awards(db: DbDep, _: FiguresReader, page: Paging,
                      period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
                      employee_id: Annotated[str | None, Query(min_length=1, max_length=64,
                                                               pattern=ID_PATTERN)] = None,
                      kind: Annotated[AwardKind | None, Query()] = None) -> AwardsPage:
    async with db.transaction() as session:
        rows, next_cursor = await awards.list_awards(session, page=page, period=period, employee_id=employee_id,
                                                     kind=kind)
    return AwardsPage(items=[AwardPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@rewards.get("/recognitions", response_model=AwardsPage, responses=problems(422),
             summary="The public wall of recognitions, newest first")
async def list_recognitions(db: DbDep, _: Reader, page: Paging,
                            period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None) -> AwardsPage:
    async with db.transaction() as session:
        rows, next_cursor = await awards.list_awards(session, page=page, period=period, kind="recognition")
    return AwardsPage(items=[AwardPublic.model_validate(r) for r in rows], next_cursor=next_cursor)


router.include_router(directory)
router.include_router(catalogue)
router.include_router(figures)
router.include_router(policy)
router.include_router(rewards)
