"""Contributions: counting order lines as their events arrive, and the period's report.

Kept incrementally: each counted line movement is a ``contribution_line`` row, unique per
(order, kind, return, line), inserted with "on conflict do nothing"; only the rows actually
inserted move the running totals (``contribution_total`` per employee and period,
``category_total`` per category). A redelivered or replayed event therefore changes nothing,
and a report reads a few total rows, never the history.

Out of order: a paid order's cancellation needs the weights in force at the payment. When it
arrives before anything says when the order was paid, it waits in ``order_fact`` and is counted
as soon as the paid event (or a return, which carries ``order_paid_at``) arrives: the figures
converge to the same values whatever the order of arrival.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.incentives.models import (
    CategoryTotal,
    ContributionLine,
    ContributionTotal,
    Employee,
    OrderFact,
    PeriodState,
    Plan,
    PlanTarget,
)
from services.incentives.rules import bonus as bonus_rules
from services.incentives.rules import contribution as rules
from services.incentives.rules import leaderboard as board
from services.incentives.rules.money import ZERO, percent, round_cents
from services.incentives.rules.periods import Period
from services.incentives.schemas import ContributionsReport, Leaderboard, LeaderboardEntry
from services.incentives.use_cases import bonus_policy, products
from services.incentives.use_cases.common import counting_period, insert_for, parse_period
from services.incentives.use_cases.employees import active_on
from shared.db.types import utcnow
from shared.events.contracts import orders as order_events
from shared.http.pagination import PageParams, cursor_value, encode_cursor

TOTAL_FIELDS = ("net_sales", "points", "locomotive_sales", "locomotive_points", "adjustment_points", "lines",
                "complaints", "breaches", "csat_sum", "csat_count")


async def add_to_totals(session: AsyncSession, *, period: Period, employee_id: str, **deltas: Any) -> None:
    """Move one employee's running figures of one period (an upsert adding the deltas)."""
    values = {"period": str(period), "employee_id": employee_id,
              **{name: deltas.get(name, 0) for name in TOTAL_FIELDS}}
    statement = insert_for(session)(ContributionTotal).values(**values)
    table = ContributionTotal.__table__
    statement = statement.on_conflict_do_update(
        index_elements=["period", "employee_id"],
        set_={name: table.c[name] + statement.excluded[name] for name in deltas})
    await session.execute(statement)


async def _add_to_category(session: AsyncSession, *, period: str, employee_id: str, category: str,
                           net_sales: Decimal, points: Decimal) -> None:
    statement = insert_for(session)(CategoryTotal).values(period=period, employee_id=employee_id, category=category,
                                                          net_sales=net_sales, points=points)
    table = CategoryTotal.__table__
    statement = statement.on_conflict_do_update(
        index_elements=["period", "employee_id", "category"],
        set_={"net_sales": table.c.net_sales + statement.excluded.net_sales,
              "points": table.c.points + statement.excluded.points})
    await session.execute(statement)


async def count_movements(session: AsyncSession, movements: Sequence[rules.Movement]) -> int:
    """Insert the movements not counted yet and move the totals by exactly those; returns how many counted."""
    if not movements:
        return 0
    periods: dict[Period, Period] = {}
    for movement in movements:
        if movement.natural_period not in periods:
            periods[movement.natural_period] = await counting_period(session, movement.natural_period)
    now = utcnow()
    rows = [{"period": str(periods[m.natural_period]), "natural_period": str(m.natural_period),
             "adjustment": periods[m.natural_period] != m.natural_period, "employee_id": m.employee_id,
             "order_id": m.order_id, "kind": m.kind, "ref": m.ref, "line_no": m.line_no, "product_id": m.product_id,
             "category": m.category, "net": m.net, "weight": m.weight, "locomotive": m.locomotive,
             "points": m.points, "happened_at": m.happened_at, "recorded_at": now} for m in movements]
    inserted = await session.execute(
        insert_for(session)(ContributionLine).values(rows)
        .on_conflict_do_nothing(index_elements=["order_id", "kind", "ref", "line_no"])
        .returning(ContributionLine.order_id, ContributionLine.kind, ContributionLine.ref, ContributionLine.line_no))
    counted = {tuple(r) for r in inserted}
    totals: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    categories: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for movement, row in zip(movements, rows, strict=True):
        if movement.key not in counted:
            continue
        figures = totals[(row["period"], movement.employee_id)]
        figures["net_sales"] += movement.net
        figures["points"] += movement.points
        figures["lines"] += 1
        if movement.locomotive:
            figures["locomotive_sales"] += movement.net
            figures["locomotive_points"] += movement.points
        if row["adjustment"]:
            figures["adjustment_points"] += movement.points
        category = categories[(row["period"], movement.employee_id, movement.category)]
        category[0] += movement.net
        category[1] += movement.points
    for (period, employee_id), figures in sorted(totals.items()):
        await add_to_totals(session, period=Period.parse(period), employee_id=employee_id,
                            **{k: (int(v) if k == "lines" else v) for k, v in figures.items()})
    for (period, employee_id, category), (net, points) in sorted(categories.items()):
        await _add_to_category(session, period=period, employee_id=employee_id, category=category, net_sales=net,
                               points=points)
    return len(counted)


# ----- order events -------------------------------------------------------------------------------

async def _order_fact(session: AsyncSession, *, order_id: str, employee_id: str, currency: str) -> OrderFact:
    await session.execute(insert_for(session)(OrderFact).values(
        order_id=order_id, employee_id=employee_id, currency=currency, sale_counted=False, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["order_id"]))
    return (await session.execute(select(OrderFact).where(OrderFact.order_id == order_id).with_for_update()
                                  .execution_options(populate_existing=True))).scalar_one()


def _lines(lines: Sequence[order_events.OrderLineV1]) -> list[rules.Line]:
    return [rules.Line(line_no=line.line_no, product_id=line.product_id, category=line.category, net=line.net,
                       quantity=line.quantity, returned_quantity=line.returned_quantity) for line in lines]


async def _lookup(session: AsyncSession, product_ids: Sequence[str]) -> rules.WeightLookup:
    histories = await products.weight_histories(session, product_ids)
    return lambda product_id, at: products.in_force(histories, product_id, at)


async def _settle_pending_cancellation(session: AsyncSession, fact: OrderFact, zone: ZoneInfo) -> None:
    pending = fact.pending_cancellation
    if not pending or fact.paid_at is None:
        return
    lines = [rules.Line(line_no=x["line_no"], product_id=x["product_id"], category=x["category"],
                        net=Decimal(x["net"]), quantity=x["quantity"], returned_quantity=x["returned_quantity"])
             for x in pending["lines"]]
    await count_movements(session, rules.cancellation_movements(
        employee_id=fact.employee_id, order_id=fact.order_id, cancelled_at=datetime.fromisoformat(pending["at"]),
        order_paid_at=fact.paid_at, lines=lines, weights=await _lookup(session, [x.product_id for x in lines]),
        zone=zone))
    fact.pending_cancellation = None


def _not_counted(fact: OrderFact, currency: str) -> bool:
    if fact.currency != currency:
        fact.not_counted_reason = f"in {fact.currency}, not the company's currency {currency}"
        return True
    return False


async def record_paid(session: AsyncSession, *, event: order_events.OrderPaidV2, zone: ZoneInfo,
                      currency: str) -> None:
    """A paid order: its lines count with the weights in force at the payment, in the payment's period."""
    fact = await _order_fact(session, order_id=event.order_id, employee_id=event.sales_employee_id,
                             currency=event.currency)
    fact.updated_at = utcnow()
    if _not_counted(fact, currency):
        return
    fact.paid_at = event.paid_at
    lines = _lines(event.lines)
    await count_movements(session, rules.sale_movements(
        employee_id=fact.employee_id, order_id=fact.order_id, paid_at=event.paid_at, lines=lines,
        weights=await _lookup(session, [x.product_id for x in lines]), zone=zone))
    fact.sale_counted = True
    await _settle_pending_cancellation(session, fact, zone)


async def record_cancelled(session: AsyncSession, *, event: order_events.OrderCancelledV2, zone: ZoneInfo,
                           currency: str) -> None:
    """A paid order's cancellation: negative lines for what it still held, in the cancellation's period."""
    fact = await _order_fact(session, order_id=event.order_id, employee_id=event.sales_employee_id,
                             currency=event.currency)
    fact.updated_at = utcnow()
    fact.cancelled_at = event.cancelled_at
    if not event.was_paid or _not_counted(fact, currency):
        return  # an unpaid order never counted: nothing to take back
    fact.pending_cancellation = {
        "at": event.cancelled_at.isoformat(),
        "lines": [{"line_no": x.line_no, "product_id": x.product_id, "category": x.category, "net": str(x.net),
                   "quantity": x.quantity, "returned_quantity": x.returned_quantity} for x in event.lines]}
    await _settle_pending_cancellation(session, fact, zone)


async def record_returned(session: AsyncSession, *, event: order_events.OrderReturnedV2, zone: ZoneInfo,
                          currency: str) -> None:
    """A return: negative lines in the return's period, with the weights the sale was paid with."""
    fact = await _order_fact(session, order_id=event.order_id, employee_id=event.sales_employee_id,
                             currency=event.currency)
    fact.updated_at = utcnow()
    if _not_counted(fact, currency):
        return
    if fact.paid_at is None:
        fact.paid_at = event.order_paid_at
    lines = [rules.Line(line_no=x.line_no, product_id=x.product_id, category=x.category, net=x.net,
                        quantity=x.quantity) for x in event.lines]
    await count_movements(session, rules.return_movements(
        employee_id=fact.employee_id, order_id=fact.order_id, return_id=event.return_id,
        returned_at=event.returned_at, order_paid_at=event.order_paid_at, lines=lines,
        weights=await _lookup(session, [x.product_id for x in lines]), zone=zone))
    await _settle_pending_cancellation(session, fact, zone)


# ----- the period's report -------------------------------------------------------------------------

def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else round_cents(value)


async def build_report(session: AsyncSession, *, period: Period, zone: ZoneInfo, currency: str,
                       state: PeriodState | None = None) -> ContributionsReport:
    """The period's figures: frozen once closed, computed from the running totals before (bonus projected)."""
    if state is None:
        state = await session.get(PeriodState, str(period))
    if state is not None and state.status == "closed" and state.report is not None:
        return ContributionsReport.model_validate(state.report)
    key = str(period)
    totals = {t.employee_id: t for t in (await session.execute(
        select(ContributionTotal).where(ContributionTotal.period == key))).scalars()}
    categories: dict[str, list[CategoryTotal]] = defaultdict(list)
    for row in (await session.execute(select(CategoryTotal).where(CategoryTotal.period == key)
                                      .order_by(CategoryTotal.category))).scalars():
        categories[row.employee_id].append(row)
    plan = await session.get(Plan, key)
    targets = {t.employee_id: t for t in (await session.execute(
        select(PlanTarget).where(PlanTarget.period == key))).scalars()}
    ids = sorted(set(totals) | set(targets))
    employees = {e.id: e for e in (await session.execute(select(Employee).where(Employee.id.in_(ids)))).scalars()} \
        if ids else {}
    policy_row = await bonus_policy.policy_in_force(session, period=period)
    policy = bonus_policy.to_rules(policy_row) if policy_row else None
    last_day = period.last_day
    company_target = plan.company_target_points if plan else None
    company_points = sum((t.points for t in totals.values()), ZERO)

    rows: dict[str, dict[str, Any]] = {}
    standings = []
    for employee_id in ids:
        total = totals.get(employee_id) or ContributionTotal(period=key, employee_id=employee_id)
        target_row = targets.get(employee_id)
        target = target_row.target_points if target_row else None
        measures = bonus_rules.QualityMeasures(complaints=total.complaints or 0, breaches=total.breaches or 0,
                                               csat_sum=total.csat_sum or 0, ratings=total.csat_count or 0)
        points = total.points if total.points is not None else ZERO
        employee = employees.get(employee_id)
        result = bonus_rules.compute_bonus(points=points, target=target, measures=measures, policy=policy) \
            if policy else None
        meets_plan = result.eligible if result else (target is not None and target > 0 and points > 0)
        category_targets = {k: Decimal(v) for k, v in (target_row.category_targets if target_row else {}).items()}
        shown_categories = {c.category: c for c in categories.get(employee_id, [])}
        category_names = sorted(set(shown_categories) | set(category_targets))
        rows[employee_id] = {
            "employee_id": employee_id, "name": employee.name if employee else None,
            "in_directory": employee is not None,
            "net_sales": total.net_sales if total.net_sales is not None else ZERO, "weighted_points": points,
            "locomotive_sales": total.locomotive_sales if total.locomotive_sales is not None else ZERO,
            "locomotive_points": total.locomotive_points if total.locomotive_points is not None else ZERO,
            "adjustment_points": total.adjustment_points if total.adjustment_points is not None else ZERO,
            "lines": total.lines or 0,
            "share_of_company_plan_percent": _cents(percent(points, company_target)),
            "personal_target_points": target, "fulfilment_percent": _cents(percent(points, target)),
            "categories": [{
                "category": name,
                "net_sales": shown_categories[name].net_sales if name in shown_categories else ZERO,
                "weighted_points": shown_categories[name].points if name in shown_categories else ZERO,
                "target_points": category_targets.get(name),
                "fulfilment_percent": _cents(percent(shown_categories[name].points if name in shown_categories
                                                     else ZERO, category_targets.get(name)))}
                for name in category_names],
            "quality": {"complaints": measures.complaints, "sla_breaches": measures.breaches,
                        "csat_average": measures.csat_average, "csat_ratings": measures.ratings},
            "bonus": None if result is None else {
                "eligible": result.eligible, "reason": result.reason,
                "accelerated_points": round_cents(result.accelerated_points), "gross": round_cents(result.gross),
                "quality_multiplier": result.quality_multiplier, "uncapped": result.uncapped,
                "capped": result.capped, "amount": result.bonus},
        }
        standings.append(board.Standing(
            employee_id=employee_id, points=points, complaints=measures.complaints, csat=measures.csat_average,
            hired_on=employee.hired_on if employee else None,
            eligible=meets_plan and active_on(employee, last_day)))
    ranked = board.rank(standings)
    best = board.winner(ranked)
    return ContributionsReport.model_validate({
        "period": key, "status": state.status if state is not None else "open", "currency": currency,
        "company_target_points": company_target, "company_points": company_points,
        "company_fulfilment_percent": _cents(percent(company_points, company_target)),
        "bonus_policy_version": policy.version if policy else None,
        "best_employee_id": best.standing.employee_id if best else None, "closed_at": None,
        "employees": [rows[e.standing.employee_id] | {
            "rank": e.rank, "decided_by": e.decided_by, "eligible_for_recognition": e.standing.eligible,
            "hired_on": e.standing.hired_on} for e in ranked],
    })


MEASURE_ORDER = ["weighted_points: higher is better", "complaints: lower is better",
                 "csat_average: higher is better (no ratings after any rating)",
                 "hired_on: earlier is better (unknown last)", "employee_id: ascending (last resort)"]


def leaderboard_of(report: ContributionsReport) -> Leaderboard:
    return Leaderboard(
        period=report.period, status=report.status, best_employee_id=report.best_employee_id, order=MEASURE_ORDER,
        entries=[LeaderboardEntry(
            rank=row.rank, employee_id=row.employee_id, name=row.name, weighted_points=row.weighted_points,
            complaints=row.quality.complaints, sla_breaches=row.quality.sla_breaches,
            csat_average=row.quality.csat_average, hired_on=row.hired_on, fulfilment_percent=row.fulfilment_percent,
            eligible=row.eligible_for_recognition, decided_by=row.decided_by) for row in report.employees])


async def list_lines(session: AsyncSession, *, period_text: str, page: PageParams,
                     employee_id: str | None = None) -> tuple[list[ContributionLine], str | None]:
    """The counted movements of a period (adjustments included), oldest first; cursor: the last id."""
    period = parse_period(period_text)
    query = select(ContributionLine).where(ContributionLine.period == str(period))
    if employee_id:
        query = query.where(ContributionLine.employee_id == employee_id)
    if page.cursor:
        query = query.where(ContributionLine.id > cursor_value(page.cursor, "id", int))
    rows = list((await session.execute(query.order_by(ContributionLine.id).limit(page.limit + 1))).scalars())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor({"id": rows[-1].id})
