"""Customers as analytics knows them (segment, manager, status), and where their figures live.

A customer's figures live under the customer at the end of its chain of merges (its *account*).
Each fact handler locks the account's row ``FOR SHARE`` while it adds to the account's figures;
a merge or a change of segment or manager locks it ``FOR UPDATE``. So a fact never lands on a
customer whose figures a concurrent merge is moving away, and the segment and manager rollups are
always attributed as the account's row says. Whatever the order the events arrive in, the figures
end under the same account, attributed to its newest segment and manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.models import (
    MEASURES,
    CustomerActivityMonth,
    CustomerDemand,
    CustomerDim,
    CustomerMonth,
    CustomerProfit,
    ManagerMonth,
    OrderFact,
    SegmentDemand,
    SegmentMonth,
)
from services.analytics.sql import add_rows, earliest, for_share, for_update, insert_once, latest

MAX_CHAIN = 50
dim = CustomerDim.__table__
profit = CustomerProfit.__table__
months = CustomerMonth.__table__
activity = CustomerActivityMonth.__table__
demand = CustomerDemand.__table__
segment_demand = SegmentDemand.__table__


@dataclass(frozen=True)
class Account:
    customer_id: str
    segment: str | None
    manager_id: str | None


async def ensure_known(session: AsyncSession, customer_id: str) -> None:
    """A placeholder for a customer first heard of through a fact (status ``unknown``)."""
    await insert_once(session, dim, {"customer_id": customer_id, "status": "unknown"})


async def account_for(session: AsyncSession, customer_id: str, *, exclusive: bool = False) -> Account:
    """The customer at the end of ``customer_id``'s chain of merges, its row locked."""
    await ensure_known(session, customer_id)
    lock = for_update if exclusive else for_share
    current = customer_id
    seen = {current}
    for _ in range(MAX_CHAIN):
        row = (
            await session.execute(
                lock(
                    session,
                    sa.select(dim.c.merged_into_id, dim.c.segment, dim.c.manager_id).where(
                        dim.c.customer_id == current
                    ),
                )
            )
        ).one_or_none()
        if row is None:
            await ensure_known(session, current)
            return Account(current, None, None)
        following = row.merged_into_id
        if not following or following in seen:
            return Account(current, row.segment, row.manager_id)
        seen.add(following)
        current = following
    raise ValueError(f"the chain of merges from {customer_id} is longer than {MAX_CHAIN}")


def _newer(stored_revision: int | None, stored_at: datetime | None, revision: int | None, at: datetime) -> bool:
    if revision is not None and stored_revision is not None:
        return revision > stored_revision
    if revision is not None:
        return True
    if stored_revision is not None:
        return False
    return stored_at is None or at > stored_at


async def _locked_dim(session: AsyncSession, customer_id: str) -> Any:
    await ensure_known(session, customer_id)
    return (await session.execute(for_update(session, sa.select(dim).where(dim.c.customer_id == customer_id)))).one()


async def apply_snapshot(
    session: AsyncSession,
    *,
    customer_id: str,
    kind: str | None,
    segment: str | None,
    manager_id: str | None,
    status: str,
    revision: int | None,
    state_at: datetime,
    registered_at: datetime | None,
) -> None:
    """A registration or update: the newest state by revision (else instant) wins; merged/erased stay."""
    row = await _locked_dim(session, customer_id)
    if not _newer(row.revision, row.state_at, revision, state_at):
        return
    final = row.status in ("merged", "erased")
    manager_newer = _newer(row.manager_revision, row.state_at, revision, state_at)
    values = {
        "kind": kind,
        "segment": segment,
        "status": row.status if final else status,
        "revision": revision,
        "state_at": state_at,
        "registered_at": registered_at or row.registered_at,
    }
    if manager_newer:
        values.update(manager_id=manager_id, manager_revision=revision)
    await session.execute(sa.update(dim).where(dim.c.customer_id == customer_id).values(**values))
    await _reattribute(
        session,
        customer_id,
        old=(row.segment, row.manager_id),
        new=(segment, manager_id if manager_newer else row.manager_id),
    )


async def apply_manager(
    session: AsyncSession, *, customer_id: str, manager_id: str, revision: int | None, assigned_at: datetime
) -> None:
    row = await _locked_dim(session, customer_id)
    if not _newer(row.manager_revision, row.state_at if row.manager_revision is None else None, revision, assigned_at):
        return
    await session.execute(
        sa.update(dim).where(dim.c.customer_id == customer_id).values(manager_id=manager_id, manager_revision=revision)
    )
    await _reattribute(session, customer_id, old=(row.segment, row.manager_id), new=(row.segment, manager_id))


async def apply_erased(session: AsyncSession, *, customer_id: str) -> None:
    """Nothing personal is kept here; the figures stay under the id. The status is final."""
    await _locked_dim(session, customer_id)
    await session.execute(sa.update(dim).where(dim.c.customer_id == customer_id).values(status="erased"))


async def apply_merge(session: AsyncSession, *, merged_id: str, survivor_id: str) -> None:
    """The duplicate's figures move to the survivor's account (the end of the survivor's chain)."""
    if merged_id == survivor_id:
        return
    row = await _locked_dim(session, merged_id)
    if row.merged_into_id == survivor_id:
        return
    target = await account_for(session, survivor_id, exclusive=True)
    if target.customer_id == merged_id:
        return  # a cycle would lose the figures: keep them where they are
    status = "erased" if row.status == "erased" else "merged"
    await session.execute(
        sa.update(dim).where(dim.c.customer_id == merged_id).values(status=status, merged_into_id=survivor_id)
    )
    await _move_account(session, source=merged_id, target=target)


def _negated(values: dict[str, Any]) -> dict[str, Any]:
    return {k: -v for k, v in values.items()}


async def _rows(session: AsyncSession, table: sa.Table, customer_id: str) -> list[dict[str, Any]]:
    result = await session.execute(sa.select(table).where(table.c.customer_id == customer_id))
    return [dict(r._mapping) for r in result]


async def _reattribute(
    session: AsyncSession, customer_id: str, *, old: tuple[str | None, str | None], new: tuple[str | None, str | None]
) -> None:
    """Move a customer's months (and demand) between segment and manager rollups."""
    (old_segment, old_manager), (new_segment, new_manager) = old, new
    if (old_segment or "") == (new_segment or "") and (old_manager or "") == (new_manager or ""):
        return
    updated = await session.execute(
        sa.update(profit).where(profit.c.customer_id == customer_id).values(segment=new_segment, manager_id=new_manager)
    )
    if updated.rowcount == 0:
        return  # no figures yet: the first fact attributes them as the row then says
    month_rows = await _rows(session, months, customer_id)
    await _move_rollups(
        session, month_rows, (old_segment or "", old_manager or ""), (new_segment or "", new_manager or "")
    )
    if (old_segment or "") != (new_segment or ""):
        await _move_demand(session, await _rows(session, demand, customer_id), old_segment or "", new_segment or "")


async def _move_rollups(
    session: AsyncSession, month_rows: list[dict[str, Any]], old: tuple[str, str], new: tuple[str, str]
) -> None:
    for table, key, index in ((SegmentMonth.__table__, "segment", 0), (ManagerMonth.__table__, "manager_id", 1)):
        if old[index] == new[index]:
            continue
        rows = []
        for row in month_rows:
            values = {m: row[m] for m in MEASURES}
            rows.append({key: old[index], "month": row["month"], **_negated(values)})
            rows.append({key: new[index], "month": row["month"], **values})
        for part in (rows[0::2], rows[1::2]):  # one statement may not touch a key twice
            await add_rows(session, table, part, keys=[key, "month"], add=MEASURES)


async def _move_demand(session: AsyncSession, demand_rows: list[dict[str, Any]], old: str, new: str) -> None:
    keys = ["segment", "category", "granularity", "period"]
    out = [
        {
            "segment": old,
            "category": r["category"],
            "granularity": r["granularity"],
            "period": r["period"],
            "quantity": -r["quantity"],
            "net": -r["net"],
        }
        for r in demand_rows
    ]
    into = [{**row, "segment": new, "quantity": -row["quantity"], "net": -row["net"]} for row in out]
    await add_rows(session, segment_demand, out, keys=keys, add=["quantity", "net"])
    await add_rows(session, segment_demand, into, keys=keys, add=["quantity", "net"])


async def _move_account(session: AsyncSession, *, source: str, target: Account) -> None:
    source_profit = (
        await session.execute(for_update(session, sa.select(profit).where(profit.c.customer_id == source)))
    ).one_or_none()
    if source_profit is not None:
        values = {m: getattr(source_profit, m) for m in MEASURES}
        await add_rows(
            session,
            profit,
            [
                {
                    "customer_id": target.customer_id,
                    "segment": target.segment,
                    "manager_id": target.manager_id,
                    **values,
                    "first_purchase_at": source_profit.first_purchase_at,
                    "last_purchase_at": source_profit.last_purchase_at,
                }
            ],
            keys=["customer_id"],
            add=MEASURES,
            keep={"first_purchase_at": earliest, "last_purchase_at": latest},
        )
        month_rows = await _rows(session, months, source)
        await add_rows(
            session,
            months,
            [{**r, "customer_id": target.customer_id} for r in month_rows],
            keys=["customer_id", "month"],
            add=MEASURES,
        )
        await _move_rollups(
            session,
            month_rows,
            (source_profit.segment or "", source_profit.manager_id or ""),
            (target.segment or "", target.manager_id or ""),
        )
        demand_rows = await _rows(session, demand, source)
        await add_rows(
            session,
            demand,
            [{**r, "customer_id": target.customer_id} for r in demand_rows],
            keys=["customer_id", "category", "granularity", "period"],
            add=["quantity", "net"],
        )
        if (source_profit.segment or "") != (target.segment or ""):
            await _move_demand(session, demand_rows, source_profit.segment or "", target.segment or "")
        activity_rows = await _rows(session, activity, source)
        await add_rows(
            session,
            activity,
            [{**r, "customer_id": target.customer_id} for r in activity_rows],
            keys=["customer_id", "month", "activity"],
            add=["count"],
        )
        for table in (months, demand, activity, profit):
            await session.execute(sa.delete(table).where(table.c.customer_id == source))
    await session.execute(
        sa.update(OrderFact.__table__)
        .where(OrderFact.__table__.c.account_id == source)
        .values(account_id=target.customer_id)
    )
