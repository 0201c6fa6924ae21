"""The replica of customers: what the customers service told us, folded in whatever order it arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.orders.customers_client import CustomerFacts
from services.orders.errors import CustomerErased, CustomerMerged, CustomerUnknown
from services.orders.models import CustomerReplica
from shared.db.dialect import SHARE, insert_for
from shared.db.types import utcnow


async def replica_knows(session: AsyncSession, *, customer_id: str) -> bool:
    return await session.get(CustomerReplica, customer_id) is not None


def _is_older(row: CustomerReplica, *, state_at: datetime, revision: int | None) -> bool:
    """Whether news stamped (``state_at``, ``revision``) is older than what the row holds.

    The customer's revision (counted under its row lock by the customers service) decides when
    both sides have one: it does not depend on the clocks of several customers API replicas.
    Without it (an older producer), the instant decides.
    """
    if revision is not None and row.revision is not None:
        return revision < row.revision
    return state_at < row.state_at


async def apply_customer_state(session: AsyncSession, *, customer_id: str, status: str, state_at: datetime,
                               source: str, kind: str | None = None, name: str | None = None,
                               segment: str | None = None, manager_id: str | None = None,
                               merged_into_id: str | None = None, revision: int | None = None) -> CustomerReplica:
    """Fold one piece of news about a customer into the replica, whatever order it arrives in.

    Erased is final (never resurrected, no name kept); merged is final except for erasure, and
    whom a customer was merged into is kept even when the erasure arrived first (its purchases
    still count for the survivor); an active snapshot older than the state already held (by
    revision, else by instant) is ignored. The row keeps the highest revision seen.
    """
    now = utcnow()
    values = {"customer_id": customer_id, "status": status, "kind": kind,
              "name": None if status == "erased" else name, "segment": segment, "manager_id": manager_id,
              "merged_into_id": merged_into_id, "source": source, "state_at": state_at, "revision": revision,
              "updated_at": now}
    row = await session.get(CustomerReplica, customer_id, with_for_update=True, populate_existing=True)
    if row is None:
        inserted = await session.execute(
            insert_for(session)(CustomerReplica).values(**values).on_conflict_do_nothing(index_elements=["customer_id"]))
        row = await session.get(CustomerReplica, customer_id, with_for_update=True, populate_existing=True)
        assert row is not None
        if inserted.rowcount == 1:
            return row
    if row.status == "erased":
        if status == "merged" and merged_into_id and not row.merged_into_id:
            row.merged_into_id = merged_into_id  # not personal: whose ledger the purchases belong to
        else:
            return row
    elif status == "erased":
        row.status, row.name, row.source = "erased", None, source
    elif status == "merged":
        row.status, row.source = "merged", source
        row.merged_into_id = merged_into_id or row.merged_into_id
    elif row.status == "merged" or _is_older(row, state_at=state_at, revision=revision):
        return row  # a merged customer never becomes active again; older news changes nothing
    else:
        row.kind, row.name, row.segment, row.manager_id = kind, name, segment, manager_id
        row.source = source
    row.state_at = max(row.state_at, state_at)
    if revision is not None:
        row.revision = max(row.revision or 0, revision)
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row


async def apply_manager_assignment(session: AsyncSession, *, customer_id: str, manager_id: str,
                                   state_at: datetime, revision: int | None) -> CustomerReplica | None:
    """A customer's new permanent manager, ordered against the snapshots exactly as they are ordered
    among themselves (by revision, else by instant): a late assignment never undoes a newer state.

    Merged and erased customers keep what they had (those states are final). A customer the
    replica has never heard of is left to the snapshot or HTTP answer that introduces it, which
    names the manager in force then.
    """
    row = await session.get(CustomerReplica, customer_id, with_for_update=True, populate_existing=True)
    if row is None or row.status != "active" or _is_older(row, state_at=state_at, revision=revision):
        return row
    row.manager_id, row.source = manager_id, "event"
    row.state_at = max(row.state_at, state_at)
    if revision is not None:
        row.revision = max(row.revision or 0, revision)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    return row


async def record_customer_facts(session: AsyncSession, *, facts: CustomerFacts) -> CustomerReplica:
    """Keep what the customers service answered over HTTP, so the next order needs no call."""
    return await apply_customer_state(
        session, customer_id=facts.customer_id, status=facts.status, state_at=facts.observed_at, source="http",
        # No name: orders keeps no personal copy of a customer (the events carry none either).
        kind=facts.kind, segment=facts.segment, manager_id=facts.manager_id,
        merged_into_id=facts.merged_into_id, revision=facts.revision)


_REPLICA = CustomerReplica.__table__  # type: ignore[attr-defined]
_SHARE_LOCK_CUSTOMER = (select(_REPLICA.c.customer_id, _REPLICA.c.status, _REPLICA.c.merged_into_id)
                        .where(_REPLICA.c.customer_id == bindparam("customer_id")).with_for_update(**SHARE))


async def orderable_customer(session: AsyncSession, *, customer_id: str) -> Any:
    """The customer if new orders may be placed for them; else the reason why not.

    The replica row is share-locked to the end of the transaction: a merge or erasure being
    applied is waited for and then seen, and none can be applied while the order is placed.
    """
    row = (await session.execute(_SHARE_LOCK_CUSTOMER, {"customer_id": customer_id})).first()
    if row is None:
        raise CustomerUnknown(customer_id)
    if row.status == "merged":
        raise CustomerMerged(customer_id, row.merged_into_id)
    if row.status == "erased":
        raise CustomerErased(customer_id)
    return row


async def merged_into(session: AsyncSession | AsyncConnection, *, customer_id: str) -> list[str]:
    """The customer and every customer merged into it, directly or along a chain of merges.

    Found from the replica's ``merged_into_id`` links, which hold whatever order the merges
    arrived in (and through erasures): the survivor's history is whole as soon as each merge
    has arrived, with no order row rewritten.
    """
    found, frontier = [customer_id], [customer_id]
    while frontier:
        merged = (await session.execute(
            select(CustomerReplica.customer_id).where(CustomerReplica.merged_into_id.in_(frontier))
            .order_by(CustomerReplica.customer_id))).scalars().all()
        frontier = [c for c in merged if c not in found]  # a cycle (customers never makes one) ends here
        found += frontier
    return found


async def loyalty_owner(session: AsyncSession, customer_id: str) -> str:
    """Whose ledger a customer's purchases count in: the end of its chain of merges, else the customer.

    Follows ``merged_into_id`` whatever the status (a duplicate merged into a survivor that was
    later erased is erased too, and its purchases still belong to the survivor). Each replica row
    on the way is share-locked, so a merge being applied to one of them is waited for, then followed.
    """
    seen = {customer_id}
    while True:
        row = await session.get(CustomerReplica, customer_id, with_for_update=SHARE, populate_existing=True)
        if row is None or not row.merged_into_id or row.merged_into_id in seen:
            return customer_id
        customer_id = row.merged_into_id
        seen.add(customer_id)
