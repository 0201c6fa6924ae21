"""Sales plans: the company's target and each employee's, in weighted points, optionally per category."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.models import PeriodState, Plan, PlanTarget
from services.incentives.schemas import PlanPublic, PlanPut
from services.incentives.use_cases.common import insert_for, parse_period, require_open
from services.incentives.use_cases.employees import require_known
from shared.http.errors import Unprocessable


def _strings(values: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}


async def put_plan(session: AsyncSession, *, period_text: str, data: PlanPut, actor: str,
                   now: datetime) -> PlanPublic:
    """Replace the period's plan (only while the period is open)."""
    period = parse_period(period_text)
    state = await require_open(session, period, action="changing its plan")
    ids = [t.employee_id for t in data.employees]
    if len(ids) != len(set(ids)):
        raise Unprocessable("an employee appears twice in the plan", field="employees")
    await require_known(session, ids, field="employees")
    key = str(period)
    existing = await session.get(Plan, key, with_for_update=True)
    revision = existing.revision + 1 if existing else 1
    values = {"period": key, "company_target_points": data.company_target_points,
              "company_category_targets": _strings(data.company_category_targets), "revision": revision,
              "updated_by": actor, "updated_at": now}
    statement = insert_for(session)(Plan).values(**values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["period"], set_={k: statement.excluded[k] for k in values if k != "period"}))
    await session.execute(delete(PlanTarget).where(PlanTarget.period == key))
    if data.employees:
        await session.execute(insert_for(session)(PlanTarget).values([
            {"period": key, "employee_id": t.employee_id, "target_points": t.target_points,
             "category_targets": _strings(t.category_targets)} for t in data.employees]))
    return _public(key, state.status, values, [
        {"employee_id": t.employee_id, "target_points": t.target_points, "category_targets": t.category_targets}
        for t in data.employees])


def _public(period: str, status: str, plan: dict[str, Any] | None, targets: list[dict[str, Any]]) -> PlanPublic:
    return PlanPublic.model_validate({
        "period": period, "status": status,
        "company_target_points": plan["company_target_points"] if plan else None,
        "company_category_targets": plan["company_category_targets"] if plan else {},
        "revision": plan["revision"] if plan else 0, "updated_by": plan["updated_by"] if plan else None,
        "updated_at": plan["updated_at"] if plan else None,
        "employees": sorted(targets, key=lambda t: t["employee_id"])})


async def get_plan(session: AsyncSession, *, period_text: str) -> PlanPublic:
    """The period's plan; an empty one (revision 0) when none was set."""
    period = parse_period(period_text)
    key = str(period)
    plan = await session.get(Plan, key)
    state = await session.get(PeriodState, key)
    targets = (await session.execute(select(PlanTarget).where(PlanTarget.period == key))).scalars()
    return _public(key, state.status if state else "open",
                   plan.model_dump() if plan else None,
                   [{"employee_id": t.employee_id, "target_points": t.target_points,
                     "category_targets": t.category_targets} for t in targets])
