"""Unit costs of the activities that make up cost to serve, and re-pricing when they change.

Decision: the aggregates store activity *counts* and the cost they come to at the current rates
(``cost_to_serve``, so lists sort and page by net contribution on an index). A change of rates
(``PUT /cost-rates``) re-prices every aggregate in the same transaction: cost = sum(count x rate)
per customer-month, then per customer, segment-month and manager-month, and net contribution again.
Handlers read a rate ``FOR SHARE`` and the change locks the rates ``FOR UPDATE``, so no activity is
priced at a rate that is being replaced. The cost is O(rows of the aggregates), paid on a rare admin
action rather than on every read.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.models import (
    CostRate,
    CustomerActivityMonth,
    CustomerMonth,
    CustomerProfit,
    ManagerMonth,
    SegmentMonth,
)
from services.analytics.money import to_minor
from services.analytics.sql import for_update
from shared.db.types import utcnow

rates = CostRate.__table__
activity = CustomerActivityMonth.__table__
months = CustomerMonth.__table__
profit = CustomerProfit.__table__


async def current(session: AsyncSession) -> list[sa.Row]:
    return list(await session.execute(sa.select(rates).order_by(rates.c.activity)))


async def replace(session: AsyncSession, *, new_rates: dict[str, Decimal], actor: str) -> list[sa.Row]:
    """Set the given activities' rates (others unchanged) and re-price every aggregate."""
    rows = {r.activity: r for r in await session.execute(for_update(session, sa.select(rates)))}
    changed = {a: to_minor(v) for a, v in new_rates.items() if rows[a].rate != to_minor(v)}
    now = utcnow()
    for name, rate in changed.items():
        await session.execute(
            sa.update(rates).where(rates.c.activity == name).values(rate=rate, updated_by=actor, updated_at=now)
        )
    if changed:
        await _reprice(session)
    return await current(session)


def _net(table: sa.Table) -> dict[str, sa.ColumnElement[int]]:
    return {"net_contribution": table.c.gross_margin - table.c.compensation - table.c.cost_to_serve}


async def _reprice(session: AsyncSession) -> None:
    cost = (
        sa.select(sa.func.coalesce(sa.func.sum(activity.c.count * rates.c.rate), 0))
        .select_from(activity.join(rates, rates.c.activity == activity.c.activity))
        .where(activity.c.customer_id == months.c.customer_id, activity.c.month == months.c.month)
        .scalar_subquery()
    )
    await session.execute(sa.update(months).values(cost_to_serve=cost))
    await session.execute(sa.update(months).values(**_net(months)))

    per_customer = (
        sa.select(sa.func.coalesce(sa.func.sum(months.c.cost_to_serve), 0))
        .where(months.c.customer_id == profit.c.customer_id)
        .scalar_subquery()
    )
    await session.execute(sa.update(profit).values(cost_to_serve=per_customer))
    await session.execute(sa.update(profit).values(**_net(profit)))

    for model, column in ((SegmentMonth, "segment"), (ManagerMonth, "manager_id")):
        table = model.__table__
        rollup = (
            sa.select(sa.func.coalesce(sa.func.sum(months.c.cost_to_serve), 0))
            .select_from(months.join(profit, profit.c.customer_id == months.c.customer_id))
            .where(sa.func.coalesce(profit.c[column], "") == table.c[column], months.c.month == table.c.month)
            .scalar_subquery()
        )
        await session.execute(sa.update(table).values(cost_to_serve=rollup))
        await session.execute(sa.update(table).values(**_net(table)))
