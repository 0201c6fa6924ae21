"""Replicas of other services' data: customers, orders and products, and the staff directory.

Fed by events (handlers.py) and, for an id the replica has not heard of yet, by the owner's HTTP
answer (directory.py). News may arrive out of order (an HTTP answer fetched while events were in
flight, a replayed dead letter): customers are ordered by their ``revision`` (``occurred_at`` for
events without one), orders, products and employees by the instant of the news. Erased is final;
merged is final except for erasure.

Merges re-key the merged customer's cases to the end of the survivor's chain of merges (merges of
one chain have different Kafka keys, so they may arrive in either order; both orders end at the
same survivor). Erasure anonymises every free text of the customer's cases (subject, body, tags,
responses, resolution texts, rating comments) and keeps the cases, their clocks and figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import (
    Case,
    CaseActivity,
    CaseResolution,
    CaseResponse,
    CustomerReplica,
    EmployeeReplica,
    OrderReplica,
    ProductReplica,
)
from shared.db.dialect import insert_for
from shared.db.types import utcnow

ERASED_TEXT = "[erased]"
SHARE: dict[str, Any] = {"read": True}  # SELECT ... FOR SHARE


@dataclass(frozen=True)
class Missing:
    """What a request referred to that the replicas have not heard of: ask the owners, then retry."""

    customer_id: str | None = None
    order_id: str | None = None
    product_id: str | None = None


class ReplicaMiss(Exception):
    def __init__(self, missing: Missing) -> None:
        super().__init__(f"not in the replicas: {missing}")
        self.missing = missing


# ----- customers ------------------------------------------------------------------------------------

def _customer_news_is_older(row: CustomerReplica, *, state_at: datetime, revision: int | None) -> bool:
    if revision is not None and row.revision is not None:
        return revision < row.revision
    return state_at < row.state_at


async def apply_customer_state(session: AsyncSession, *, customer_id: str, status: str, state_at: datetime,
                               source: str, segment: str | None = None, merged_into_id: str | None = None,
                               revision: int | None = None) -> CustomerReplica:
    """Fold one piece of news about a customer into the replica, whatever order it arrives in."""
    now = utcnow()
    row = await session.get(CustomerReplica, customer_id, with_for_update=True, populate_existing=True)
    if row is None:
        inserted = await session.execute(
            insert_for(session)(CustomerReplica)
            .values(customer_id=customer_id, status=status, segment=segment, merged_into_id=merged_into_id,
                    revision=revision, state_at=state_at, source=source, updated_at=now)
            .on_conflict_do_nothing(index_elements=["customer_id"]))
        row = await session.get(CustomerReplica, customer_id, with_for_update=True, populate_existing=True)
        assert row is not None
        if inserted.rowcount == 1:
            return row
    if row.status == "erased":
        if status == "merged" and merged_into_id and not row.merged_into_id:
            row.merged_into_id = merged_into_id  # whose cases these are is not personal data
        else:
            return row
    elif status == "erased":
        row.status, row.segment, row.source = "erased", None, source
    elif status == "merged":
        row.status, row.source = "merged", source
        row.merged_into_id = merged_into_id or row.merged_into_id
    elif row.status == "merged" or _customer_news_is_older(row, state_at=state_at, revision=revision):
        return row
    else:
        row.segment, row.source = segment, source
    row.state_at = max(row.state_at, state_at)
    if revision is not None:
        row.revision = max(row.revision or 0, revision)
    row.updated_at = now
    await session.flush()
    return row


async def survivor_of(session: AsyncSession, customer_id: str) -> str:
    """The end of a customer's chain of merges (the customer itself if it was never merged)."""
    seen = {customer_id}
    while True:
        merged_into = await session.scalar(
            select(CustomerReplica.merged_into_id).where(CustomerReplica.customer_id == customer_id))
        if not merged_into or merged_into in seen:
            return customer_id
        customer_id = merged_into
        seen.add(customer_id)


async def rekey_cases(session: AsyncSession, *, merged_id: str, survivor_id: str, at: datetime) -> int:
    """Move the merged customer's cases to the end of the survivor's chain; the number moved."""
    final = await survivor_of(session, survivor_id)
    if final == merged_id:
        return 0
    case_ids = list((await session.execute(
        select(Case.id).where(Case.customer_id == merged_id).with_for_update())).scalars())
    if not case_ids:
        return 0
    await session.execute(update(Case).where(Case.id.in_(case_ids)).values(customer_id=final, updated_at=at))
    await session.execute(insert(CaseActivity), [
        {"case_id": case_id, "kind": "customer_merged", "actor": "customers", "at": at,
         "from_status": None, "to_status": None, "details": {"from_customer_id": merged_id, "to_customer_id": final}}
        for case_id in case_ids])
    return len(case_ids)


async def anonymise_customer(session: AsyncSession, *, customer_id: str) -> int:
    """Clear every free text of the customer's cases (also cases a merge moved away); the number of cases."""
    case_ids = list((await session.execute(
        select(Case.id).where(or_(Case.customer_id == customer_id, Case.original_customer_id == customer_id))
        .with_for_update())).scalars())
    if not case_ids:
        return 0
    await session.execute(update(Case).where(Case.id.in_(case_ids))
                          .values(subject=ERASED_TEXT, body=ERASED_TEXT, tags=[]))
    await session.execute(update(CaseResponse).where(CaseResponse.case_id.in_(case_ids)).values(body=ERASED_TEXT))
    await session.execute(update(CaseResolution).where(CaseResolution.case_id.in_(case_ids))
                          .values(text=ERASED_TEXT, rating_comment=None))
    return len(case_ids)


# ----- orders and products ------------------------------------------------------------------------

async def _upsert_newest(session: AsyncSession, table: Any, key: str, key_value: str, values: dict[str, Any]) -> None:
    """Insert, or replace the row if this news is newer than what it holds (by ``state_at``)."""
    inserted = await session.execute(
        insert_for(session)(table).values(**{key: key_value}, **values).on_conflict_do_nothing(index_elements=[key]))
    if inserted.rowcount == 1:
        return
    column = getattr(table, key)
    await session.execute(update(table).where(column == key_value, table.state_at <= values["state_at"])
                          .values(**values))


async def apply_order_state(session: AsyncSession, *, order_id: str, customer_id: str, status: str,
                            lines: list[dict[str, Any]], state_at: datetime, source: str) -> None:
    await _upsert_newest(session, OrderReplica, "order_id", order_id, {
        "customer_id": customer_id, "status": status, "lines": lines, "state_at": state_at, "source": source,
        "updated_at": utcnow()})


async def apply_product_state(session: AsyncSession, *, product_id: str, name: str, category: str | None,
                              active: bool, state_at: datetime, source: str) -> None:
    await _upsert_newest(session, ProductReplica, "product_id", product_id, {
        "name": name, "category": category, "active": active, "state_at": state_at, "source": source,
        "updated_at": utcnow()})


# ----- the staff directory ---------------------------------------------------------------------------

async def employees(session: AsyncSession, ids: set[str]) -> dict[str, EmployeeReplica]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = (await session.execute(select(EmployeeReplica).where(EmployeeReplica.employee_id.in_(ids)))).scalars()
    return {row.employee_id: row for row in rows}
