"""Incentives' facts the dashboard's leaderboard needs: employees, product weights, closed periods."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.models import EmployeeDim, PeriodResult, ProductWeight
from services.analytics.sql import dialect_insert
from shared.events.contracts import incentives as incentive_events


async def apply_employee(session: AsyncSession, event: incentive_events.EmployeeSnapshot) -> None:
    """Events of one employee share a key, so they arrive in order: the latest snapshot wins."""
    table = EmployeeDim.__table__
    statement = dialect_insert(session, table).values(
        employee_id=event.employee_id, name=event.name, role=event.role, active=event.active
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["employee_id"], set_={c: statement.excluded[c] for c in ("name", "role", "active")}
        )
    )


async def apply_weight(session: AsyncSession, event: incentive_events.ProductWeightSetV1) -> None:
    table = ProductWeight.__table__
    statement = dialect_insert(session, table).values(
        product_id=event.product_id, effective_at=event.effective_at, weight=event.weight, locomotive=event.locomotive
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["product_id", "effective_at"],
            set_={"weight": statement.excluded.weight, "locomotive": statement.excluded.locomotive},
        )
    )


async def apply_period_closed(
    session: AsyncSession, event: incentive_events.PeriodClosedV1, closed_at: datetime
) -> None:
    table = PeriodResult.__table__
    rows = [
        {
            "period": event.period,
            "employee_id": e.employee_id,
            "net_sales": format(e.net_sales, "f"),
            "weighted_points": format(e.weighted_points, "f"),
            "bonus": format(e.bonus, "f"),
            "rank": e.rank,
            "closed_at": closed_at,
        }
        for e in event.employees
    ]
    if not rows:
        return
    statement = dialect_insert(session, table).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["period", "employee_id"],
            set_={c: statement.excluded[c] for c in ("net_sales", "weighted_points", "bonus", "rank", "closed_at")},
        )
    )
