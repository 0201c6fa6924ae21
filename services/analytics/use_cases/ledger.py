"""Profitability facts: each business fact adds its contribution once, in the period it happened.

A payment adds the order's net, cost and discount in the month it was paid; a return subtracts
what it took back in the month of the return; a cancelled paid order subtracts what the
cancellation reversed in the month of the cancellation (a settled month is never rewritten);
compensation counts in the month of the resolution; an activity's cost in the month it happened.
Each contribution depends on its own event only, so any arrival order gives the same sums; the
``applied_fact`` claim (``paid:<order>``, ``return:<id>``...) applies a fact once even when it is
published again under another event id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.models import (
    MEASURES,
    AppliedFact,
    CostRate,
    CustomerActivityMonth,
    CustomerDemand,
    CustomerMonth,
    CustomerProfit,
    JobState,
    ManagerMonth,
    OrderFact,
    SaleLine,
    SegmentDemand,
    SegmentMonth,
)
from services.analytics.money import prorate, to_minor
from services.analytics.sql import add_rows, dialect_insert, earliest, for_share, insert_once, latest
from services.analytics.stats.periods import labels
from services.analytics.use_cases.accounts import Account, account_for
from shared.db.types import utcnow
from shared.events.contracts import orders as order_events

DETECTION_JOB = "detect"


def measures(
    *,
    sales_net: int = 0,
    sales_cost: int = 0,
    sales_discount: int = 0,
    returns_net: int = 0,
    returns_cost: int = 0,
    returns_discount: int = 0,
    compensation: int = 0,
    cost_to_serve: int = 0,
    orders: int = 0,
    returns: int = 0,
) -> dict[str, int]:
    revenue = sales_net - returns_net
    cost_of_goods = sales_cost - returns_cost
    gross_margin = revenue - cost_of_goods
    return {
        "revenue": revenue,
        "cost_of_goods": cost_of_goods,
        "gross_margin": gross_margin,
        "discounts": sales_discount - returns_discount,
        "compensation": compensation,
        "cost_to_serve": cost_to_serve,
        "net_contribution": gross_margin - compensation - cost_to_serve,
        "sales_net": sales_net,
        "returns_net": returns_net,
        "orders": orders,
        "returns": returns,
    }


async def claim(session: AsyncSession, ref: str) -> bool:
    return await insert_once(session, AppliedFact.__table__, {"ref": ref})


async def mark_dirty(session: AsyncSession, at: datetime | None = None) -> None:
    """Tell the detection job there is new data (touches the row only when it is not already dirty)."""
    job = JobState.__table__
    await session.execute(
        sa.update(job).where(job.c.name == DETECTION_JOB, job.c.dirty_at.is_(None)).values(dirty_at=at or utcnow())
    )


async def add_measures(
    session: AsyncSession,
    account: Account,
    *,
    at: datetime,
    zone: ZoneInfo,
    values: dict[str, int],
    purchase_at: datetime | None = None,
) -> None:
    month = labels(at, zone)["month"]
    await add_rows(
        session,
        CustomerProfit.__table__,
        [
            {
                "customer_id": account.customer_id,
                "segment": account.segment,
                "manager_id": account.manager_id,
                "first_purchase_at": purchase_at,
                "last_purchase_at": purchase_at,
                **values,
            }
        ],
        keys=["customer_id"],
        add=MEASURES,
        keep={"first_purchase_at": earliest, "last_purchase_at": latest},
    )
    await add_rows(
        session,
        CustomerMonth.__table__,
        [{"customer_id": account.customer_id, "month": month, **values}],
        keys=["customer_id", "month"],
        add=MEASURES,
    )
    await add_rows(
        session,
        SegmentMonth.__table__,
        [{"segment": account.segment or "", "month": month, **values}],
        keys=["segment", "month"],
        add=MEASURES,
    )
    await add_rows(
        session,
        ManagerMonth.__table__,
        [{"manager_id": account.manager_id or "", "month": month, **values}],
        keys=["manager_id", "month"],
        add=MEASURES,
    )


async def add_demand(
    session: AsyncSession, account: Account, *, at: datetime, zone: ZoneInfo, lines: list[tuple[str, int, int]]
) -> None:
    """``lines``: (category, quantity, net) added in the month and the ISO week of ``at``."""
    totals: dict[tuple[str, str, str], list[int]] = {}
    for granularity, period in labels(at, zone).items():
        for category, quantity, net in lines:
            entry = totals.setdefault((category, granularity, period), [0, 0])
            entry[0] += quantity
            entry[1] += net
    keys = [
        {"category": c, "granularity": g, "period": p, "quantity": q, "net": n} for (c, g, p), (q, n) in totals.items()
    ]
    await add_rows(
        session,
        CustomerDemand.__table__,
        [{"customer_id": account.customer_id, **k} for k in keys],
        keys=["customer_id", "category", "granularity", "period"],
        add=["quantity", "net"],
    )
    await add_rows(
        session,
        SegmentDemand.__table__,
        [{"segment": account.segment or "", **k} for k in keys],
        keys=["segment", "category", "granularity", "period"],
        add=["quantity", "net"],
    )


async def add_sale_lines(
    session: AsyncSession,
    *,
    ref: str,
    employee_id: str,
    at: datetime,
    weighted_at: datetime,
    zone: ZoneInfo,
    lines: list[tuple[int, str, int, int]],
) -> None:
    """The live leaderboard's facts: (line_no, product, quantity, net) of one payment/return/cancellation."""
    period = labels(at, zone)["month"]
    rows = [
        {
            "ref": f"{ref}:{line_no}",
            "employee_id": employee_id,
            "product_id": product,
            "period": period,
            "weighted_at": weighted_at,
            "quantity": quantity,
            "net": net,
        }
        for line_no, product, quantity, net in lines
    ]
    if rows:
        statement = sa.insert(SaleLine.__table__).values(rows)
        await session.execute(statement)


def _amounts(amounts: order_events.Amounts) -> dict[str, int]:
    return {"net": to_minor(amounts.net), "cost": to_minor(amounts.cost), "discount": to_minor(amounts.discount)}


async def _order_fact(
    session: AsyncSession, *, order_id: str, customer_id: str, account: Account, employee_id: str, **values: Any
) -> None:
    table = OrderFact.__table__
    statement = dialect_insert(session, table).values(
        order_id=order_id,
        customer_id=customer_id,
        account_id=account.customer_id,
        sales_employee_id=employee_id,
        **{k: v for k, v in values.items() if not k.startswith("add_")},
        **{k[4:]: v for k, v in values.items() if k.startswith("add_")},
    )
    updates: dict[str, Any] = {"account_id": statement.excluded.account_id}
    for key, value in values.items():
        if key.startswith("add_"):
            updates[key[4:]] = table.c[key[4:]] + value
        else:
            updates[key] = statement.excluded[key]
    await session.execute(statement.on_conflict_do_update(index_elements=["order_id"], set_=updates))


async def order_paid(session: AsyncSession, event: order_events.OrderPaidV2, *, zone: ZoneInfo) -> None:
    if not await claim(session, f"paid:{event.order_id}"):
        return
    account = await account_for(session, event.customer_id)
    a = _amounts(event)
    await add_measures(
        session,
        account,
        at=event.paid_at,
        zone=zone,
        purchase_at=event.paid_at,
        values=measures(sales_net=a["net"], sales_cost=a["cost"], sales_discount=a["discount"], orders=1),
    )
    await add_demand(
        session,
        account,
        at=event.paid_at,
        zone=zone,
        lines=[(line.category, line.quantity, to_minor(line.net)) for line in event.lines],
    )
    await add_sale_lines(
        session,
        ref=f"paid:{event.order_id}",
        employee_id=event.sales_employee_id,
        at=event.paid_at,
        weighted_at=event.paid_at,
        zone=zone,
        lines=[(line.line_no, line.product_id, line.quantity, to_minor(line.net)) for line in event.lines],
    )
    await _order_fact(
        session,
        order_id=event.order_id,
        customer_id=event.customer_id,
        account=account,
        employee_id=event.sales_employee_id,
        paid_at=event.paid_at,
        paid_net=a["net"],
    )
    await mark_dirty(session)


async def order_cancelled(session: AsyncSession, event: order_events.OrderCancelledV2, *, zone: ZoneInfo) -> None:
    if not await claim(session, f"cancel:{event.order_id}"):
        return
    account = await account_for(session, event.customer_id)
    await _order_fact(
        session,
        order_id=event.order_id,
        customer_id=event.customer_id,
        account=account,
        employee_id=event.sales_employee_id,
        cancelled=True,
    )
    if not event.was_paid:
        return
    reversed_ = _amounts(event.reversed)
    await add_measures(
        session,
        account,
        at=event.cancelled_at,
        zone=zone,
        values=measures(
            sales_net=-reversed_["net"], sales_cost=-reversed_["cost"], sales_discount=-reversed_["discount"], orders=-1
        ),
    )
    remaining = [
        (
            line,
            line.quantity - line.returned_quantity,
            to_minor(line.net) - prorate(to_minor(line.net), line.returned_quantity, line.quantity),
        )
        for line in event.lines
    ]
    await add_demand(
        session,
        account,
        at=event.cancelled_at,
        zone=zone,
        lines=[(line.category, -quantity, -net) for line, quantity, net in remaining],
    )
    paid_at = (
        await session.execute(
            sa.select(OrderFact.__table__.c.paid_at).where(OrderFact.__table__.c.order_id == event.order_id)
        )
    ).scalar_one_or_none()
    await add_sale_lines(
        session,
        ref=f"cancel:{event.order_id}",
        employee_id=event.sales_employee_id,
        at=event.cancelled_at,
        weighted_at=paid_at or event.cancelled_at,
        zone=zone,
        lines=[(line.line_no, line.product_id, -quantity, -net) for line, quantity, net in remaining],
    )
    await mark_dirty(session)


async def order_returned(session: AsyncSession, event: order_events.OrderReturnedV2, *, zone: ZoneInfo) -> None:
    if not await claim(session, f"return:{event.return_id}"):
        return
    account = await account_for(session, event.customer_id)
    a = _amounts(event)
    await add_measures(
        session,
        account,
        at=event.returned_at,
        zone=zone,
        values=measures(returns_net=a["net"], returns_cost=a["cost"], returns_discount=a["discount"], returns=1),
    )
    await add_demand(
        session,
        account,
        at=event.returned_at,
        zone=zone,
        lines=[(line.category, -line.quantity, -to_minor(line.net)) for line in event.lines],
    )
    await add_sale_lines(
        session,
        ref=f"return:{event.return_id}",
        employee_id=event.sales_employee_id,
        at=event.returned_at,
        weighted_at=event.order_paid_at,
        zone=zone,
        lines=[(line.line_no, line.product_id, -line.quantity, -to_minor(line.net)) for line in event.lines],
    )
    await _order_fact(
        session,
        order_id=event.order_id,
        customer_id=event.customer_id,
        account=account,
        employee_id=event.sales_employee_id,
        add_returned_net=a["net"],
    )
    await mark_dirty(session)


async def compensation_paid(
    session: AsyncSession,
    *,
    case_id: str,
    resolution_no: int,
    customer_id: str,
    amount: int,
    at: datetime,
    zone: ZoneInfo,
) -> None:
    if amount == 0 or not await claim(session, f"comp:{case_id}:{resolution_no}"):
        return
    account = await account_for(session, customer_id)
    await add_measures(session, account, at=at, zone=zone, values=measures(compensation=amount))
    await mark_dirty(session)


async def activity_happened(
    session: AsyncSession, *, ref: str, customer_id: str, activity: str, at: datetime, zone: ZoneInfo
) -> None:
    """One more activity of a kind; its cost is the kind's rate now (re-priced on a rate change)."""
    if not await claim(session, ref):
        return
    rates = CostRate.__table__
    rate = (
        await session.execute(for_share(session, sa.select(rates.c.rate).where(rates.c.activity == activity)))
    ).scalar_one_or_none() or 0
    account = await account_for(session, customer_id)
    await add_measures(session, account, at=at, zone=zone, values=measures(cost_to_serve=rate))
    await add_rows(
        session,
        CustomerActivityMonth.__table__,
        [{"customer_id": account.customer_id, "month": labels(at, zone)["month"], "activity": activity, "count": 1}],
        keys=["customer_id", "month", "activity"],
        add=["count"],
    )
