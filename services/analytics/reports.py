"""Read queries of the analytics API, answered from the incrementally kept aggregates.

Complexity of each (N customers, M months kept, P periods, S segments, C categories):
- profitability list, all time: one index range scan of ``customer_profit`` on the sort measure
  (net contribution, revenue, gross margin, cost to serve have (measure, id) indexes; segment and
  manager filters use (segment|manager, net_contribution, id)): O(page) rows read. Other sorts and
  derived measures (AOV, returns rate) sort the N rows: O(N log N).
- profitability list for a period: aggregates ``customer_month`` rows of the period (index on
  (month, customer_id)) then sorts: O(N x months in the period).
- one customer: primary-key reads and its M months: O(M).
- segments / managers: ``segment_month`` / ``manager_month`` in the period: O(S x M).
- cohorts: every customer's first purchase and its months: O(N x M) (no raw events).
- trends: ``segment_demand`` of one granularity (index on granularity) and ``trend_status``: O(S x C x P).
- RFM / CLV pages: ``customer_score`` by primary key or group index: O(page); the group summary O(N).
- leaderboard: ``sale_line`` of the current period (index on (period, employee)) with product weights.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.config import AnalyticsSettings
from services.analytics.models import (
    MEASURES,
    CaseMonth,
    CostRate,
    CustomerActivityMonth,
    CustomerDim,
    CustomerMonth,
    CustomerProfit,
    CustomerScore,
    DetectedTrend,
    EmployeeDim,
    ManagerMonth,
    ModelFit,
    PeriodResult,
    ProductWeight,
    SaleLine,
    SegmentDemand,
    SegmentMonth,
    TrendStatus,
)
from services.analytics.money import from_minor
from services.analytics.stats import slope
from services.analytics.stats.periods import label, period_range
from shared.db.types import utcnow
from shared.http.errors import NotFound, Unprocessable
from shared.http.pagination import decode_cursor, encode_cursor

profit = CustomerProfit.__table__
months = CustomerMonth.__table__


def measures_out(row: Any) -> dict[str, Any]:
    values = {m: getattr(row, m) for m in MEASURES}
    out: dict[str, Any] = {m: (from_minor(v) if m not in ("orders", "returns") else int(v)) for m, v in values.items()}
    out["aov"] = from_minor(round(values["sales_net"] / values["orders"])) if values["orders"] > 0 else None
    out["returns_rate"] = round(values["returns_net"] / values["sales_net"], 6) if values["sales_net"] > 0 else None
    return out


def _sum_measures(table: sa.Table) -> list[sa.Label[Any]]:
    return [sa.func.coalesce(sa.func.sum(table.c[m]), 0).label(m) for m in MEASURES]


def _check_range(period_from: str | None, period_to: str | None) -> None:
    if period_from and period_to and period_from > period_to:
        raise Unprocessable("period_from is after period_to", field="period_from")


def _sort_expression(source: Any, sort: str) -> sa.ColumnElement[Any]:
    if sort == "aov":
        return sa.case((source.c.orders > 0, sa.cast(source.c.sales_net, sa.Float) / source.c.orders), else_=None)
    if sort == "returns_rate":
        return sa.case(
            (source.c.sales_net > 0, sa.cast(source.c.returns_net, sa.Float) / source.c.sales_net), else_=None
        )
    return source.c[sort]


def _cursor(cursor: str, sort: str, order: str) -> tuple[Any, str]:
    values = decode_cursor(cursor)
    if values.get("s") != sort or values.get("o") != order or not isinstance(values.get("id"), str):
        raise Unprocessable("the cursor belongs to another sort or is not one this API issued", field="cursor")
    value = values.get("v")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise Unprocessable("the cursor is not one this API issued", field="cursor")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise Unprocessable("the cursor is not one this API issued", field="cursor")
    return value, values["id"]


async def customer_page(
    session: AsyncSession,
    *,
    settings: AnalyticsSettings,
    period_from: str | None,
    period_to: str | None,
    segment: str | None,
    manager_id: str | None,
    sort: str,
    order: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    _check_range(period_from, period_to)
    if period_from or period_to:
        conditions = []
        if period_from:
            conditions.append(months.c.month >= period_from)
        if period_to:
            conditions.append(months.c.month <= period_to)
        grouped = (
            sa.select(months.c.customer_id, *_sum_measures(months))
            .where(*conditions)
            .group_by(months.c.customer_id)
            .subquery("period")
        )
        source = (
            sa.select(
                grouped, profit.c.segment, profit.c.manager_id, profit.c.first_purchase_at, profit.c.last_purchase_at
            )
            .select_from(grouped.join(profit, profit.c.customer_id == grouped.c.customer_id))
            .subquery("rows")
        )
    else:
        source = profit
    key = _sort_expression(source, sort)
    nulls_key = sa.func.coalesce(key, -1e18) if sort in ("aov", "returns_rate") else key
    statement = sa.select(source)
    if segment is not None:
        statement = statement.where(source.c.segment == segment)
    if manager_id is not None:
        statement = statement.where(source.c.manager_id == manager_id)
    descending = order == "desc"
    if cursor:
        value, last_id = _cursor(cursor, sort, order)
        value = -1e18 if value is None else value
        if descending:
            statement = statement.where(
                sa.or_(nulls_key < value, sa.and_(nulls_key == value, source.c.customer_id < last_id))
            )
        else:
            statement = statement.where(
                sa.or_(nulls_key > value, sa.and_(nulls_key == value, source.c.customer_id > last_id))
            )
    ordering = (
        [nulls_key.desc(), source.c.customer_id.desc()] if descending else [nulls_key.asc(), source.c.customer_id.asc()]
    )
    rows = list(
        await session.execute(statement.add_columns(nulls_key.label("sort_value")).order_by(*ordering).limit(limit + 1))
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        sort_value = last.sort_value
        next_cursor = encode_cursor(
            {"s": sort, "o": order, "v": sort_value if sort_value != -1e18 else None, "id": last.customer_id}
        )
    now = utcnow()
    return [customer_out(r, now) for r in rows], next_cursor


def customer_out(row: Any, now: datetime) -> dict[str, Any]:
    first = row.first_purchase_at
    return {
        "customer_id": row.customer_id,
        "segment": row.segment,
        "manager_id": row.manager_id,
        "first_purchase_at": first,
        "last_purchase_at": row.last_purchase_at,
        "tenure_days": (now - first).days if first else None,
        **measures_out(row),
    }


def score_out(row: Any) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "recency_days": row.recency_days,
        "frequency": row.frequency,
        "monetary": from_minor(row.monetary),
        "r": row.r,
        "f": row.f,
        "m": row.m,
        "rfm_group": row.rfm_group,
        "p_alive": row.p_alive,
        "expected_purchases_12m": row.expected_purchases_12m,
        "expected_order_value": from_minor(row.expected_order_value),
        "predicted_value_12m": from_minor(row.predicted_value_12m),
        "historical_value": from_minor(row.historical_value),
        "computed_at": row.computed_at,
    }


async def resolve(session: AsyncSession, customer_id: str) -> tuple[str, str] | None:
    """(account id, status of the requested customer), or None when analytics never heard of it."""
    dims = CustomerDim.__table__
    current, status, seen = customer_id, None, set()
    for _ in range(50):
        row = (
            await session.execute(sa.select(dims.c.merged_into_id, dims.c.status).where(dims.c.customer_id == current))
        ).one_or_none()
        if row is None:
            return (current, status or "unknown") if status is not None else None
        status = status or row.status
        if not row.merged_into_id or row.merged_into_id in seen:
            return current, status
        seen.add(current)
        current = row.merged_into_id
    return current, status or "unknown"


async def customer_detail(session: AsyncSession, *, customer_id: str, settings: AnalyticsSettings) -> dict[str, Any]:
    found = await resolve(session, customer_id)
    if found is None:
        raise NotFound(f"analytics has no figures for customer {customer_id}", customer_id=customer_id)
    account_id, status = found
    row = (await session.execute(sa.select(profit).where(profit.c.customer_id == account_id))).one_or_none()
    if row is None:
        raise NotFound(f"analytics has no figures for customer {customer_id} yet", customer_id=customer_id)
    month_rows = list(
        await session.execute(sa.select(months).where(months.c.customer_id == account_id).order_by(months.c.month))
    )
    series_months = _filled(month_rows, "month")
    trend = slope.trend_of([float(m["net_contribution"]) for m in series_months])
    activity = CustomerActivityMonth.__table__
    rates = CostRate.__table__
    cost_rows = await session.execute(
        sa.select(activity.c.activity, sa.func.sum(activity.c.count).label("count"), rates.c.rate)
        .select_from(activity.join(rates, rates.c.activity == activity.c.activity))
        .where(activity.c.customer_id == account_id)
        .group_by(activity.c.activity, rates.c.rate)
        .order_by(activity.c.activity)
    )
    score = (
        await session.execute(
            sa.select(CustomerScore.__table__).where(CustomerScore.__table__.c.customer_id == account_id)
        )
    ).one_or_none()
    return {
        **customer_out(row, utcnow()),
        "requested_id": customer_id,
        "status": status,
        "months": series_months,
        "net_contribution_trend": {
            "slope_per_month": Decimal(str(round(trend.slope_per_month, 2))),
            "direction": trend.direction,
            "p_value": trend.p_value,
            "months": trend.points,
        },
        "cost_to_serve_by_activity": [
            {
                "activity": r.activity,
                "count": int(r.count),
                "rate": from_minor(r.rate),
                "cost": from_minor(int(r.count) * r.rate),
            }
            for r in cost_rows
        ],
        "score": score_out(score) if score else None,
    }


def _filled(rows: list[Any], key: str) -> list[dict[str, Any]]:
    """Month rows with the months between them filled with zeros (a quiet month is a zero, not a gap)."""
    if not rows:
        return []
    by_month = {getattr(r, key): r for r in rows}
    out = []
    zero = {m: 0 for m in MEASURES}
    for month in period_range(getattr(rows[0], key), getattr(rows[-1], key)):
        r = by_month.get(month)
        values = measures_out(r) if r is not None else measures_out(type("Zero", (), zero))
        out.append({"month": month, **values})
    return out


async def groups(
    session: AsyncSession, *, by: str, period_from: str | None, period_to: str | None
) -> list[dict[str, Any]]:
    _check_range(period_from, period_to)
    table = (SegmentMonth if by == "segment" else ManagerMonth).__table__
    column = table.c["segment" if by == "segment" else "manager_id"]
    statement = sa.select(table)
    if period_from:
        statement = statement.where(table.c.month >= period_from)
    if period_to:
        statement = statement.where(table.c.month <= period_to)
    rows = list(await session.execute(statement.order_by(column, table.c.month)))
    grouped: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[getattr(r, column.name)].append(r)
    out = []
    for key, items in grouped.items():
        totals = type("Totals", (), {m: sum(getattr(i, m) for i in items) for m in MEASURES})
        if all(getattr(totals, m) == 0 for m in MEASURES):
            continue  # a segment all of whose customers moved elsewhere
        out.append({"key": key or None, **measures_out(totals), "months": _filled(items, "month")})
    out.sort(key=lambda g: g["net_contribution"], reverse=True)
    return out


async def cohorts(session: AsyncSession, *, settings: AnalyticsSettings, horizon: int) -> list[dict[str, Any]]:
    firsts = {
        r.customer_id: label(r.first_purchase_at, settings.zone, "month")
        for r in await session.execute(
            sa.select(profit.c.customer_id, profit.c.first_purchase_at).where(profit.c.first_purchase_at.is_not(None))
        )
    }
    active: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    revenue: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sizes: dict[str, int] = defaultdict(int)
    for cohort in firsts.values():
        sizes[cohort] += 1
    index = {}
    for r in await session.execute(sa.select(months.c.customer_id, months.c.month, months.c.orders, months.c.revenue)):
        cohort = firsts.get(r.customer_id)
        if cohort is None or r.month < cohort:
            continue
        if (cohort, r.month) not in index:
            index[(cohort, r.month)] = len(period_range(cohort, r.month)) - 1
        offset = index[(cohort, r.month)]
        if offset >= horizon:
            continue
        if r.orders > 0:
            active[cohort][offset].add(r.customer_id)
        revenue[cohort][offset] += r.revenue
    out = []
    for cohort in sorted(sizes):
        span = min(horizon, len(period_range(cohort, label(utcnow(), settings.zone, "month"))))
        out.append(
            {
                "cohort": cohort,
                "customers": sizes[cohort],
                "retention": [round(len(active[cohort][k]) / sizes[cohort], 4) for k in range(span)],
                "revenue": [from_minor(revenue[cohort][k]) for k in range(span)],
            }
        )
    return out


async def rfm_summary(session: AsyncSession) -> tuple[list[dict[str, Any]], datetime | None]:
    scores = CustomerScore.__table__
    rows = await session.execute(
        sa.select(
            scores.c.rfm_group,
            sa.func.count(),
            sa.func.sum(scores.c.historical_value),
            sa.func.max(scores.c.computed_at),
        ).group_by(scores.c.rfm_group)
    )
    groups_out, computed = [], None
    for group, count, value, at in rows:
        groups_out.append({"group": group, "customers": int(count), "historical_value": from_minor(int(value or 0))})
        computed = at if computed is None or (at and at > computed) else computed
    return groups_out, computed


async def score_page(
    session: AsyncSession, *, group: str | None, limit: int, cursor: str | None, by_value: bool = False
) -> tuple[list[dict[str, Any]], str | None]:
    scores = CustomerScore.__table__
    statement = sa.select(scores)
    if group:
        statement = statement.where(scores.c.rfm_group == group)
    key = sa.func.coalesce(scores.c.predicted_value_12m, -1)
    if cursor:
        values = decode_cursor(cursor)
        last_id, value = values.get("id"), values.get("v")
        if not isinstance(last_id, str) or (
            by_value and (not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63)
        ):
            raise Unprocessable("the cursor is not one this API issued", field="cursor")
        if by_value:
            statement = statement.where(sa.or_(key < value, sa.and_(key == value, scores.c.customer_id > last_id)))
        else:
            statement = statement.where(scores.c.customer_id > last_id)
    ordering = [key.desc(), scores.c.customer_id] if by_value else [scores.c.customer_id]
    rows = list(await session.execute(statement.order_by(*ordering).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {
                "id": last.customer_id,
                **({"v": last.predicted_value_12m if last.predicted_value_12m is not None else -1} if by_value else {}),
            }
        )
    return [score_out(r) for r in rows], next_cursor


async def clv_model(session: AsyncSession) -> tuple[dict[str, float] | None, datetime | None]:
    row = (await session.execute(sa.select(ModelFit.__table__).where(ModelFit.__table__.c.name == "clv"))).one_or_none()
    return (json.loads(row.params), row.fitted_at) if row else (None, None)


async def trends(
    session: AsyncSession, *, granularity: str, segment: str | None, category: str | None
) -> dict[str, Any]:
    demand = SegmentDemand.__table__
    statement = sa.select(demand).where(demand.c.granularity == granularity, demand.c.segment != "")
    if segment:
        statement = statement.where(demand.c.segment == segment)
    if category:
        statement = statement.where(demand.c.category == category)
    cells = list(await session.execute(statement))
    status = TrendStatus.__table__
    tests = list(await session.execute(sa.select(status).where(status.c.granularity == granularity)))
    if not cells:
        return {"granularity": granularity, "periods": [], "series": [], "computed_at": None}
    axis = period_range(min(c.period for c in cells), max(c.period for c in cells))
    position = {p: i for i, p in enumerate(axis)}
    series: dict[tuple[str, str], dict[str, list[int]]] = {}
    for c in cells:
        entry = series.setdefault((c.segment, c.category), {"quantity": [0] * len(axis), "net": [0] * len(axis)})
        entry["quantity"][position[c.period]] += c.quantity
        entry["net"][position[c.period]] += c.net
    by_series: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    computed = None
    for t in tests:
        by_series[(t.segment, t.category)][t.measure].append(
            {
                "method": t.method,
                "direction": t.direction,
                "statistic": t.statistic,
                "sen_slope": t.sen_slope,
                "p_value": t.p_value,
                "adjusted_p_value": t.adjusted_p_value,
                "relative_change": t.relative_change,
                "change_period": t.change_period,
            }
        )
        computed = t.computed_at
    return {
        "granularity": granularity,
        "periods": axis,
        "computed_at": computed,
        "series": [
            {
                "segment": s,
                "category": c,
                "quantity": v["quantity"],
                "net_revenue": [from_minor(n) for n in v["net"]],
                "tests": dict(by_series.get((s, c), {})),
            }
            for (s, c), v in sorted(series.items())
        ],
    }


async def detected_page(session: AsyncSession, *, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    table = DetectedTrend.__table__
    statement = sa.select(table)
    if cursor:
        values = decode_cursor(cursor)
        try:
            at = datetime.fromisoformat(values["at"])
            last = values["id"]
            if at.tzinfo is None or not isinstance(last, str):
                raise ValueError
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise Unprocessable("the cursor is not one this API issued", field="cursor") from exc
        statement = statement.where(
            sa.or_(table.c.first_seen_at < at, sa.and_(table.c.first_seen_at == at, table.c.trend_id > last))
        )
    rows = list(
        await session.execute(statement.order_by(table.c.first_seen_at.desc(), table.c.trend_id).limit(limit + 1))
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"at": rows[-1].first_seen_at.isoformat(), "id": rows[-1].trend_id})
    return rows, next_cursor


async def cases(session: AsyncSession, *, period_from: str | None, period_to: str | None) -> list[dict[str, Any]]:
    _check_range(period_from, period_to)
    table = CaseMonth.__table__
    statement = sa.select(table)
    if period_from:
        statement = statement.where(table.c.month >= period_from)
    if period_to:
        statement = statement.where(table.c.month <= period_to)
    out: dict[str, dict[str, Any]] = {}
    for r in await session.execute(statement.order_by(table.c.month)):
        entry = out.setdefault(r.month, {"month": r.month, "received": 0, "resolved": 0, "breached": 0, "by_kind": {}})
        entry["received"] += r.received
        entry["resolved"] += r.resolved
        entry["breached"] += r.breached
        entry["by_kind"][r.kind] = entry["by_kind"].get(r.kind, 0) + r.received
    for entry in out.values():
        entry["breach_rate"] = round(entry["breached"] / entry["received"], 4) if entry["received"] else None
    return list(out.values())


LEADERBOARD_RULE = (
    "live: weighted points = sum of line net x the product's weight in force when the sale was paid "
    "(1 without one), returns and cancellations subtracted; ranked by points, then net sales, then "
    "employee id. Incentives' closed periods are authoritative."
)


async def leaderboard(session: AsyncSession, *, settings: AnalyticsSettings) -> dict[str, Any]:
    period = label(utcnow(), settings.zone, "month")
    lines = SaleLine.__table__
    rows = list(await session.execute(sa.select(lines).where(lines.c.period == period)))
    weights_table = ProductWeight.__table__
    products = {r.product_id for r in rows}
    weights: dict[str, list[Any]] = defaultdict(list)
    if products:
        for w in await session.execute(
            sa.select(weights_table)
            .where(weights_table.c.product_id.in_(products))
            .order_by(weights_table.c.effective_at)
        ):
            weights[w.product_id].append(w)
    totals: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"net": Decimal(0), "points": Decimal(0), "loco": Decimal(0)}
    )
    for r in rows:
        weight, locomotive = Decimal(1), False
        for w in weights.get(r.product_id, []):
            if w.effective_at <= r.weighted_at:
                weight, locomotive = Decimal(w.weight), w.locomotive
        net = Decimal(r.net) / 100
        entry = totals[r.employee_id]
        entry["net"] += net
        entry["points"] += net * weight
        if locomotive:
            entry["loco"] += net
    employees = EmployeeDim.__table__
    names = {r.employee_id: r.name for r in await session.execute(sa.select(employees.c.employee_id, employees.c.name))}
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1]["points"], -kv[1]["net"], kv[0]))
    results = PeriodResult.__table__
    last_closed = (await session.execute(sa.select(sa.func.max(results.c.period)))).scalar_one_or_none()
    closed = []
    if last_closed:
        closed = [
            {
                "rank": r.rank,
                "employee_id": r.employee_id,
                "name": names.get(r.employee_id),
                "net_sales": r.net_sales,
                "weighted_points": r.weighted_points,
                "bonus": r.bonus,
            }
            for r in await session.execute(
                sa.select(results)
                .where(results.c.period == last_closed)
                .order_by(sa.func.coalesce(results.c.rank, 10**6), results.c.employee_id)
            )
        ]
    return {
        "period": period,
        "rule": LEADERBOARD_RULE,
        "last_closed_period": last_closed,
        "last_closed": closed,
        "leaders": [
            {
                "rank": i + 1,
                "employee_id": e,
                "name": names.get(e),
                "net_sales": v["net"].quantize(Decimal("0.01")),
                "weighted_points": v["points"].quantize(Decimal("0.01")),
                "locomotive_sales": v["loco"].quantize(Decimal("0.01")),
            }
            for i, (e, v) in enumerate(ranked)
        ],
    }
