"""The analytics HTTP API: reports from the read models, the cost rates, and the dashboard.

Roles: managers, analysts and other services read every report; only admin changes the cost rates
(a change re-prices every figure). The dashboard page and its assets need no token: the page asks
for one and calls this API with it.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from services.analytics import reports
from services.analytics.config import AnalyticsSettings
from services.analytics.money import from_minor
from services.analytics.schemas import (
    CasesPublic,
    ClvPublic,
    CohortsPublic,
    CostRatesPublic,
    CostRatesUpdate,
    CustomerDetailPublic,
    CustomerProfitPage,
    DetectedTrendPublic,
    DetectedTrendsPage,
    GroupsPublic,
    LeaderboardPublic,
    Month,
    RfmPublic,
    SortMeasure,
    TrendsPublic,
)
from services.analytics.stats.rfm import GROUPS
from services.analytics.use_cases import cost_rates
from shared.http.app import DbDep
from shared.http.auth import Principal, require_roles
from shared.http.errors import NotFound
from shared.http.openapi import problems
from shared.http.pagination import PageParams, page_params

router = APIRouter()
ASSETS = FilePath(__file__).parent / "dashboard"

Reader = Annotated[Principal, Depends(require_roles("manager", "analyst", "service"))]
Admin = Annotated[Principal, Depends(require_roles())]
Paging = Annotated[PageParams, Depends(page_params)]
Key = Annotated[str, Query(min_length=1, max_length=64)]
PeriodFrom = Annotated[Month | None, Query(description="first month, YYYY-MM (company calendar)")]
PeriodTo = Annotated[Month | None, Query(description="last month, YYYY-MM")]


def settings_of(request: Request) -> AnalyticsSettings:
    return request.app.state.runtime.settings


SettingsDep = Annotated[AnalyticsSettings, Depends(settings_of)]


READ = problems(401, 403, 422)

profitability = APIRouter(tags=["profitability"])


@profitability.get(
    "/profitability/customers",
    response_model=CustomerProfitPage,
    responses=READ,
    summary="Every partnership's profitability, filtered, sorted by any measure, keyset-paginated",
)
async def list_customers(
    db: DbDep,
    settings: SettingsDep,
    _: Reader,
    page: Paging,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    segment: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    manager_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    sort: SortMeasure = "net_contribution",
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    async with db.transaction() as session:
        items, next_cursor = await reports.customer_page(
            session,
            settings=settings,
            period_from=period_from,
            period_to=period_to,
            segment=segment,
            manager_id=manager_id,
            sort=sort,
            order=order,
            limit=page.limit,
            cursor=page.cursor,
        )
    return {"items": items, "next_cursor": next_cursor}


@profitability.get(
    "/profitability/customers/{customer_id}",
    response_model=CustomerDetailPublic,
    responses=problems(401, 403, 404, 422),
    summary="One partnership: totals, monthly series with its trend, cost to serve, RFM and CLV",
)
async def get_customer(customer_id: str, db: DbDep, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    if not 1 <= len(customer_id) <= 64:
        raise NotFound(f"analytics has no figures for customer {customer_id[:64]}", customer_id=customer_id[:64])
    async with db.transaction() as session:
        return await reports.customer_detail(session, customer_id=customer_id, settings=settings)


@profitability.get(
    "/profitability/segments",
    response_model=GroupsPublic,
    responses=READ,
    summary="Profitability per customer segment, with its monthly series",
)
async def by_segment(
    db: DbDep, _: Reader, period_from: PeriodFrom = None, period_to: PeriodTo = None
) -> dict[str, Any]:
    async with db.transaction() as session:
        return {"items": await reports.groups(session, by="segment", period_from=period_from, period_to=period_to)}


@profitability.get(
    "/profitability/managers",
    response_model=GroupsPublic,
    responses=READ,
    summary="Profitability per permanent account manager, with the monthly series",
)
async def by_manager(
    db: DbDep, _: Reader, period_from: PeriodFrom = None, period_to: PeriodTo = None
) -> dict[str, Any]:
    async with db.transaction() as session:
        return {"items": await reports.groups(session, by="manager", period_from=period_from, period_to=period_to)}


customers = APIRouter(tags=["customers"])


@customers.get(
    "/cohorts", response_model=CohortsPublic, responses=READ, summary="Retention and revenue by month of first purchase"
)
async def get_cohorts(
    db: DbDep, settings: SettingsDep, _: Reader, months: Annotated[int, Query(ge=1, le=60)] = 12
) -> dict[str, Any]:
    async with db.transaction() as session:
        return {"cohorts": await reports.cohorts(session, settings=settings, horizon=months)}


@customers.get(
    "/rfm", response_model=RfmPublic, responses=READ, summary="RFM quintile scores per customer and the named groups"
)
async def get_rfm(
    db: DbDep, _: Reader, page: Paging, group: Annotated[Literal[GROUPS] | None, Query()] = None
) -> dict[str, Any]:  # type: ignore[valid-type]
    async with db.transaction() as session:
        summary, computed = await reports.rfm_summary(session)
        items, next_cursor = await reports.score_page(session, group=group, limit=page.limit, cursor=page.cursor)
    return {"groups": summary, "items": items, "next_cursor": next_cursor, "computed_at": computed}


@customers.get(
    "/clv",
    response_model=ClvPublic,
    responses=READ,
    summary="Customer lifetime value: historical, and predicted for 12 months (BG/NBD x Gamma-Gamma)",
)
async def get_clv(db: DbDep, _: Reader, page: Paging) -> dict[str, Any]:
    async with db.transaction() as session:
        model, fitted = await reports.clv_model(session)
        items, next_cursor = await reports.score_page(
            session, group=None, limit=page.limit, cursor=page.cursor, by_value=True
        )
    return {"model": model, "fitted_at": fitted, "items": items, "next_cursor": next_cursor}


demand = APIRouter(tags=["demand trends"])


@demand.get(
    "/trends",
    response_model=TrendsPublic,
    responses=READ,
    summary="Demand per segment x category (quantity, net revenue) with each series' trend tests",
)
async def get_trends(
    db: DbDep,
    _: Reader,
    granularity: Literal["week", "month"] = "month",
    segment: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    async with db.transaction() as session:
        return await reports.trends(session, granularity=granularity, segment=segment, category=category)


@demand.get(
    "/trends/detected",
    response_model=DetectedTrendsPage,
    responses=READ,
    summary="Trends detected so far, newest first, with when each was first seen",
)
async def get_detected(db: DbDep, _: Reader, page: Paging) -> dict[str, Any]:
    async with db.transaction() as session:
        rows, next_cursor = await reports.detected_page(session, limit=page.limit, cursor=page.cursor)
    return {"items": [DetectedTrendPublic.model_validate(r._mapping) for r in rows], "next_cursor": next_cursor}


operations = APIRouter(tags=["service and staff"])


@operations.get(
    "/cases/summary",
    response_model=CasesPublic,
    responses=READ,
    summary="Case volumes and SLA breach rate by month of receipt",
)
async def get_cases(db: DbDep, _: Reader, period_from: PeriodFrom = None, period_to: PeriodTo = None) -> dict[str, Any]:
    async with db.transaction() as session:
        return {"months": await reports.cases(session, period_from=period_from, period_to=period_to)}


@operations.get(
    "/leaderboard",
    response_model=LeaderboardPublic,
    responses=READ,
    summary="The incentives leaderboard of the current period (live) and the last closed period",
)
async def get_leaderboard(db: DbDep, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    async with db.transaction() as session:
        return await reports.leaderboard(session, settings=settings)


rates = APIRouter(tags=["cost rates"])


def _rates_out(rows: list[Any], settings: AnalyticsSettings) -> dict[str, Any]:
    return {
        "currency": settings.currency,
        "rates": [
            {"activity": r.activity, "rate": from_minor(r.rate), "updated_by": r.updated_by, "updated_at": r.updated_at}
            for r in rows
        ],
    }


@rates.get("/cost-rates", response_model=CostRatesPublic, responses=READ, summary="Unit cost of each activity")
async def get_rates(db: DbDep, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    async with db.transaction() as session:
        return _rates_out(await cost_rates.current(session), settings)


@rates.put(
    "/cost-rates",
    response_model=CostRatesPublic,
    responses=READ,
    summary="Set unit costs (admin); every figure is re-priced at the new rates in the same transaction",
)
async def put_rates(body: CostRatesUpdate, db: DbDep, settings: SettingsDep, who: Admin) -> dict[str, Any]:
    async with db.transaction() as session:
        return _rates_out(await cost_rates.replace(session, new_rates=body.decimals(), actor=who.subject), settings)


dashboard = APIRouter(tags=["dashboard"])


@dashboard.get("/dashboard", response_class=HTMLResponse, summary="The managers' dashboard (asks for a token)")
async def get_dashboard() -> FileResponse:
    return FileResponse(
        ASSETS / "index.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


_ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dashboard.get("/dashboard/assets/{name}", include_in_schema=False)
async def get_asset(name: str) -> FileResponse:
    path = ASSETS / "assets" / name
    if "/" in name or name.startswith(".") or path.suffix not in _ASSET_TYPES or not path.is_file():
        raise NotFound(f"no dashboard asset {name[:100]}")
    return FileResponse(path, media_type=_ASSET_TYPES[path.suffix], headers={"Cache-Control": "max-age=3600"})


for sub in (profitability, customers, demand, operations, rates, dashboard):
    router.include_router(sub)
