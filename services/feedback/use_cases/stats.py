"""``GET /cases/stats``: figures of the cases received in a period, computed by the database.

Counts are GROUP BYs; breach rates a GROUP BY kind, priority; CSAT an AVG over the ratings of
those cases' resolutions; compensation a SUM per kind and currency. Percentiles of the first
response and resolution times (working time, waits excluded; the first-response time of a case
and its latest resolution's time) use ``percentile_cont`` on PostgreSQL. SQLite has no
percentile function: there the database sorts only the durations of the period (through the
``received_at`` index) and the one or two rows around each percentile's position are read with
``LIMIT/OFFSET``, then interpolated like ``percentile_cont`` does. No case is loaded into Python.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Integer, String, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import Case, CaseResolution
from services.feedback.working_time import HOUR_US

PERCENTILES = (0.5, 0.9)
CENT = Decimal("0.01")


def _period(start: datetime, end: datetime) -> Any:
    return and_(Case.received_at >= start, Case.received_at < end)


async def _counts(session: AsyncSession, column: Any, where: Any) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).where(where).group_by(column))
    return {("none" if key is None else str(key)): count for key, count in rows}


async def _percentiles_postgres(session: AsyncSession, column: Any, where: Any) -> tuple[int, list[float | None]]:
    functions = [func.percentile_cont(p).within_group(column) for p in PERCENTILES]
    row = (await session.execute(select(func.count(column), *functions).where(where, column.is_not(None)))).one()
    return row[0], [None if v is None else float(v) for v in row[1:]]


async def _percentiles_sqlite(session: AsyncSession, column: Any, where: Any) -> tuple[int, list[float | None]]:
    count = await session.scalar(select(func.count(column)).where(where, column.is_not(None))) or 0
    values: list[float | None] = []
    for p in PERCENTILES:
        if count == 0:
            values.append(None)
            continue
        position = p * (count - 1)
        low = math.floor(position)
        pair = list((await session.execute(select(column).where(where, column.is_not(None)).order_by(column)
                                           .limit(2).offset(low))).scalars())
        upper = pair[1] if len(pair) > 1 else pair[0]
        values.append(pair[0] + (upper - pair[0]) * (position - low))
    return count, values


async def compute(session: AsyncSession, *, start: datetime, end: datetime) -> dict[str, Any]:
    where = _period(start, end)
    postgres = session.bind.dialect.name == "postgresql"
    percentiles = _percentiles_postgres if postgres else _percentiles_sqlite
    figures: dict[str, Any] = {"received_from": start, "received_to": end,
                               "percentile_method": "percentile_cont" if postgres else
                               "ordered read of the durations (LIMIT/OFFSET), interpolated as percentile_cont"}
    figures["cases"] = await session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    for name, column in (("by_kind", Case.kind), ("by_category", Case.category_id), ("by_product", Case.product_id),
                         ("by_channel", Case.channel), ("by_status", Case.status)):
        figures[name] = await _counts(session, column, where)
    latest = select(CaseResolution.case_id, CaseResolution.resolution_us).join(
        Case, and_(Case.id == CaseResolution.case_id, Case.resolution_no == CaseResolution.resolution_no)
    ).where(where).subquery()
    for name, column, condition in (
        ("first_response", Case.fr_elapsed_us, and_(where, Case.first_response_at.is_not(None))),
        ("resolution", latest.c.resolution_us, latest.c.resolution_us.is_not(None)),
    ):
        count, values = await percentiles(session, column, condition)
        median, p90 = (None if v is None else round(v / HOUR_US, 3) for v in values)
        figures[name] = {"count": count, "median_hours": median, "p90_hours": p90}
    breaches = await session.execute(
        select(Case.kind, Case.priority, func.count(), func.sum(case((Case.sla_breached.is_(True), 1), else_=0)))
        .where(where).group_by(Case.kind, Case.priority).order_by(Case.kind, Case.priority))
    figures["breach_rates"] = [{"kind": k, "priority": p, "cases": n, "breached": int(b or 0),
                                "rate": round(int(b or 0) / n, 4) if n else 0.0} for k, p, n, b in breaches]
    rated = CaseResolution.rating.is_not(None)
    csat = (await session.execute(
        select(func.avg(cast(CaseResolution.rating, Float)), func.count(CaseResolution.rating))
        .join(Case, Case.id == CaseResolution.case_id).where(where, rated))).one()
    figures["csat_average"] = None if csat[0] is None else round(float(csat[0]), 3)
    figures["csat_count"] = csat[1]
    # Money is summed by the database exactly: NUMERIC on PostgreSQL; on SQLite, where money is kept
    # as canonical text with two decimals, as integer cents.
    amount = CaseResolution.compensation_amount
    cents = cast(func.replace(cast(amount, String), literal(".", String), literal("", String)), Integer)
    total = func.sum(amount) if postgres else func.sum(cents)
    rows = await session.execute(
        select(CaseResolution.compensation, CaseResolution.currency, func.count(), total)
        .join(Case, Case.id == CaseResolution.case_id).where(where, CaseResolution.compensation != "none")
        .group_by(CaseResolution.compensation, CaseResolution.currency)
        .order_by(CaseResolution.compensation, CaseResolution.currency))
    figures["compensation"] = [
        {"compensation": k, "currency": c, "count": n,
         "amount": Decimal(str(t)).quantize(CENT) if postgres else (Decimal(int(t)) / 100).quantize(CENT)}
        for k, c, n, t in rows]
    return figures

