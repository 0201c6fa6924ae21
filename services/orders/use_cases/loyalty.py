"""The loyalty program and each customer's ledger, account and tier (the rules are in ``services.orders.loyalty``)."""

from __future__ import annotations

import zlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import loyalty as loyalty_rules
from services.orders import pricing
from services.orders.errors import CustomerMerged
from services.orders.models import CustomerReplica, LoyaltyAccount, LoyaltyEntry, LoyaltyProgram, Order
from services.orders.pricing import ZERO
from services.orders.schemas import ProgramUpdate
from services.orders.use_cases.customers import loyalty_owner
from shared.bus.outbox import add_event
from shared.db.dialect import insert_for
from shared.db.types import utcnow
from shared.events.contracts import orders as events
from shared.http.errors import Conflict, NotFound, Unprocessable
from shared.http.pagination import PageParams, cursor_value, encode_cursor

_PROGRAM_LOCK = zlib.crc32(b"pelanggan-orders-loyalty-program")


def _program_from_row(row: LoyaltyProgram) -> loyalty_rules.Program:
    return loyalty_rules.Program(
        version=row.version, currency=row.currency, window=row.qualifying_window,  # type: ignore[arg-type]
        window_months=row.window_months, downgrade=row.downgrade,  # type: ignore[arg-type]
        tiers=tuple(loyalty_rules.Tier(name=t["name"], threshold=Decimal(t["threshold"]),
                                       discount_percent=Decimal(t["discount_percent"])) for t in row.tiers))


async def current_program(session: AsyncSession, *,
                          currency: str) -> tuple[loyalty_rules.Program, LoyaltyProgram | None]:
    row = await session.scalar(select(LoyaltyProgram).order_by(LoyaltyProgram.version.desc()).limit(1))
    if row is None:
        return loyalty_rules.default_program(currency), None
    return _program_from_row(row), row


async def _lock_program(session: AsyncSession, *, exclusive: bool = False) -> None:
    """The program lock, held to the end of the transaction (PostgreSQL; SQLite has one writer).

    Pricing and counting spend share it; replacing the program takes it alone. So an order never
    gets the old discount once the new program is committed, and no account is re-evaluated under
    a program that was replaced while it waited for the account's lock.
    """
    if session.bind.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await session.execute(text(f"SELECT {function}(:key)"), {"key": _PROGRAM_LOCK})


def also_locking_program(statement: Select) -> Select:
    """``statement`` that also takes the program lock shared, once per row it returns (PostgreSQL).

    For a hot path that reads the program right after it: the lock rides on a statement it sends
    anyway, one round trip less. The lock cannot ride on the program's own read: at READ COMMITTED
    that statement's snapshot is taken before the lock is granted, so it could miss a program
    committed while it waited. The lock is re-entrant: several rows take it several times, all
    released at the end of the transaction. No row, no lock: the caller must then not read the
    program under :func:`program_in_force` with ``locked=True``.
    """
    return statement.add_columns(func.pg_advisory_xact_lock_shared(_PROGRAM_LOCK).label("program_locked"))


async def program_in_force(session: AsyncSession, *, currency: str, exclusive: bool = False,
                           locked: bool = False) -> tuple[loyalty_rules.Program, LoyaltyProgram | None]:
    """The current program, read after taking the program lock (so it stays current to the commit);
    ``locked``: a statement before took it already (:func:`also_locking_program`)."""
    if not locked:
        await _lock_program(session, exclusive=exclusive)
    return await current_program(session, currency=currency)


async def put_program(session: AsyncSession, *, data: ProgramUpdate, actor: str,
                      currency: str) -> tuple[loyalty_rules.Program, LoyaltyProgram, int]:
    """Replace the program with a new version and re-evaluate every customer's tier under it."""
    if data.currency is not None and data.currency != currency:
        raise Unprocessable(f"the loyalty program counts spend in {currency}", field="currency")
    previous, _ = await program_in_force(session, currency=currency, exclusive=True)
    program = loyalty_rules.Program(
        version=previous.version + 1, currency=currency, window=data.qualifying_window,
        window_months=data.window_months, downgrade=data.downgrade,
        tiers=tuple(loyalty_rules.Tier(name=t.name, threshold=t.threshold, discount_percent=t.discount_percent)
                    for t in data.tiers))
    try:
        loyalty_rules.validate_program(program)
    except loyalty_rules.ProgramError as exc:
        raise Unprocessable(str(exc), field="tiers") from exc
    row = LoyaltyProgram(
        version=program.version, currency=currency, qualifying_window=program.window,
        window_months=program.window_months, downgrade=program.downgrade, created_by=actor,
        tiers=[{"name": t.name, "threshold": format(pricing.round_money(t.threshold, currency), "f"),
                "discount_percent": format(t.discount_percent.quantize(Decimal("0.01")), "f")}
               for t in program.tiers])
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("the program was changed by someone else at the same time; read it and try again",
                       version=program.version) from exc
    program = _program_from_row(row)  # amounts in their stored, canonical form
    _accounts, changes = await reevaluate_all(session, program=program, reason="program_changed")
    return program, row, changes


async def lock_account(session: AsyncSession, *, customer_id: str, program: loyalty_rules.Program) -> LoyaltyAccount:
    """The customer's account row, locked (created at the base tier on first use)."""
    account = await session.get(LoyaltyAccount, customer_id, with_for_update=True, populate_existing=True)
    if account is not None:
        return account
    now = utcnow()
    await session.execute(
        insert_for(session)(LoyaltyAccount)
        .values(customer_id=customer_id, currency=program.currency, balance=ZERO, tier=program.base.name,
                discount_percent=program.base.discount_percent, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["customer_id"]))
    account = await session.get(LoyaltyAccount, customer_id, with_for_update=True, populate_existing=True)
    assert account is not None
    return account


async def _follow_merges(session: AsyncSession, *, account: LoyaltyAccount,
                         program: loyalty_rules.Program) -> LoyaltyAccount:
    """From a locked account to the locked account its ledger now lives in: a merge committed while
    we waited for the lock has moved it on (``merged_into_id``), maybe more than once."""
    seen = {account.customer_id}
    while account.merged_into_id is not None and account.merged_into_id not in seen:
        seen.add(account.merged_into_id)
        account = await lock_account(session, customer_id=account.merged_into_id, program=program)
    return account


async def _ledger(session: AsyncSession, customer_id: str) -> list[loyalty_rules.Entry]:
    # Summed in Python: SQL SUM over SQLite's text decimals would go through floats.
    rows = (await session.execute(
        select(LoyaltyEntry.effective_at, LoyaltyEntry.amount).where(LoyaltyEntry.customer_id == customer_id)
    )).all()
    return [loyalty_rules.Entry(effective_at=at, amount=amount) for at, amount in rows]


async def _entries_for_standing(session: AsyncSession, account: LoyaltyAccount, program: loyalty_rules.Program,
                                at: datetime) -> list[loyalty_rules.Entry]:
    """What the standing at ``at`` needs of the ledger, read as little as the window allows.

    A lifetime window needs only the running total kept on the account (``balance``, changed with
    every entry and every merge under the account's lock): reversals are dated at the accrual they
    take back, so the spend never falls from one instant to the next and the best spend ever is the
    total. The customer's whole ledger, which grows with every payment, is read for rolling windows only.
    """
    if program.window == "lifetime":
        return [loyalty_rules.Entry(effective_at=at, amount=account.balance)]
    return await _ledger(session, account.customer_id)


async def reevaluate(session: AsyncSession, *, account: LoyaltyAccount, program: loyalty_rules.Program,
                     reason: str, order_id: str | None = None,
                     at: datetime | None = None) -> loyalty_rules.Standing:
    """Recompute the tier from the ledger; announce it when it changed. The account must be locked.

    ``at`` is the instant of the command that asks (a backdated import's), else now: the standing is
    the one in force then, and a change is dated then. Imports go in time order, so the ledger
    holds nothing later; a rolling window then catches up at now with the periodic sweep.
    """
    now = at or utcnow()
    standing = loyalty_rules.standing(program, await _entries_for_standing(session, account, program, now), now)
    tier = standing.tier
    if tier.name != account.tier or tier.discount_percent != account.discount_percent:
        add_event(session, events.LoyaltyTierChangedV1(
            customer_id=account.customer_id, previous_tier=account.tier,
            previous_discount_percent=account.discount_percent, tier=tier.name,
            discount_percent=tier.discount_percent, spend_in_window=standing.spend_in_window,
            currency=program.currency, program_version=program.version, reason=reason,  # type: ignore[arg-type]
            order_id=order_id, changed_at=now), aggregate_id=account.customer_id, customer_id=account.customer_id,
            occurred_at=now)
        account.tier, account.discount_percent, account.tier_changed_at = tier.name, tier.discount_percent, now
        account.updated_at = now
        session.add(account)
        await session.flush()
    return standing


async def _record_entry(session: AsyncSession, *, account: LoyaltyAccount, order_id: str, kind: str, ref: str,
                        amount: Decimal, effective_at: datetime) -> bool:
    """Add one ledger entry; False (and nothing changes) when this (order, kind, ref) was recorded before."""
    inserted = await session.execute(
        insert_for(session)(LoyaltyEntry)
        .values(customer_id=account.customer_id, order_id=order_id, kind=kind, ref=ref, amount=amount,
                currency=account.currency, effective_at=effective_at, recorded_at=utcnow())
        .on_conflict_do_nothing(index_elements=["order_id", "kind", "ref"]))
    if inserted.rowcount != 1:
        return False
    account.balance = account.balance + amount
    account.updated_at = utcnow()
    session.add(account)
    await session.flush()
    return True


async def accrue(session: AsyncSession, *, order: Order, currency: str) -> None:  # dated order.paid_at
    """A paid order counts its net towards the customer's loyalty, dated at the payment, in the
    ledger of the survivor of the customer's merges."""
    assert order.paid_at is not None
    owner = await loyalty_owner(session, order.customer_id)
    program, _ = await program_in_force(session, currency=currency)
    if order.currency != program.currency:
        return  # spend in another currency does not count towards the program
    account = await lock_account(session, customer_id=owner, program=program)
    account = await _follow_merges(session, account=account, program=program)
    if await _record_entry(session, account=account, order_id=order.id, kind="accrual", ref="", amount=order.net,
                           effective_at=order.paid_at):
        await reevaluate(session, account=account, program=program, reason="accrual", order_id=order.id,
                         at=order.paid_at)


async def reverse(session: AsyncSession, *, order: Order, kind: str, ref: str, amount: Decimal | None,
                  currency: str, at: datetime | None = None) -> None:
    """Take back ``amount`` (or all that is left) of an order's accrual, dated at the accrual, in
    the ledger that holds the accrual (the survivor's, after merges); the tier is re-evaluated at
    ``at`` (the cancellation's or return's instant, default now)."""
    program, _ = await program_in_force(session, currency=currency)
    for _attempt in range(3):
        accrual = await session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.order_id == order.id,
                                                                  LoyaltyEntry.kind == "accrual"))
        if accrual is None:
            return  # never accrued: nothing to reverse
        account = await lock_account(session, customer_id=accrual.customer_id, program=program)
        account = await _follow_merges(session, account=account, program=program)
        await session.refresh(accrual)
        if accrual.customer_id == account.customer_id:
            break  # a merge did not move the ledger under us
    else:
        raise Conflict("the customer's loyalty ledger is being moved by a merge; try again")
    if amount is None:
        kept = (await session.execute(select(LoyaltyEntry.amount).where(LoyaltyEntry.order_id == order.id))).scalars()
        amount = sum(kept, ZERO)
    if amount == ZERO:
        return
    if await _record_entry(session, account=account, order_id=order.id, kind=kind, ref=ref, amount=-amount,
                           effective_at=accrual.effective_at):
        await reevaluate(session, account=account, program=program, reason=kind, order_id=order.id, at=at)


async def reevaluate_all(session: AsyncSession, *, program: loyalty_rules.Program | None = None,
                         currency: str | None = None, reason: str = "reevaluation") -> tuple[int, int]:
    """Re-evaluate every account (after a program change, or as a periodic sweep for rolling
    windows); returns how many accounts were evaluated and how many tiers changed."""
    if program is None:
        assert currency is not None
        program, _ = await program_in_force(session, currency=currency)
    ids = (await session.execute(select(LoyaltyAccount.customer_id).where(LoyaltyAccount.merged_into_id.is_(None))
                                 .order_by(LoyaltyAccount.customer_id))).scalars().all()
    changes = 0
    for customer_id in ids:
        account = await lock_account(session, customer_id=customer_id, program=program)
        before = (account.tier, account.discount_percent)
        await reevaluate(session, account=account, program=program, reason=reason)
        changes += before != (account.tier, account.discount_percent)
    return len(ids), changes


async def merge_loyalty(session: AsyncSession, *, merged_id: str, survivor_id: str) -> None:
    """A merged duplicate's purchases count for the survivor from now on: its ledger moves over.

    Merges of one chain (A into B, then B into C) have different keys and may be applied in either
    order, or at the same time: the ledger goes to the end of the survivor's chain (C), found
    under the replica's share locks and re-checked under the accounts' locks. The duplicate's
    replica row must already say "merged" (the handler applies that first, in this transaction):
    its lock is what makes a racing payment wait for this merge and then follow it.
    """
    if merged_id == survivor_id:
        return
    await session.get(CustomerReplica, merged_id, with_for_update=True)
    merged = await session.get(LoyaltyAccount, merged_id)
    if merged is None or merged.merged_into_id is not None:
        return  # nothing bought yet (later payments follow the replica), or moved already
    target = await loyalty_owner(session, survivor_id)
    program, _ = await program_in_force(session, currency=merged.currency)
    seen = {merged_id}
    while True:
        if target in seen:
            return  # a cycle of merges: customers never makes one; leave the ledger where it is
        accounts = {}
        for customer_id in sorted([merged_id, target]):  # lock in id order: no deadlock with a reverse merge
            accounts[customer_id] = await lock_account(session, customer_id=customer_id, program=program)
        merged, survivor = accounts[merged_id], accounts[target]
        if merged.merged_into_id is not None:
            return  # moved already
        if survivor.merged_into_id is None:
            break
        seen.add(target)
        target = survivor.merged_into_id  # merged away while we waited for its lock: follow it
    moved = list((await session.execute(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == merged_id))).scalars())
    for entry in moved:
        entry.customer_id = target
        session.add(entry)
    survivor.balance = survivor.balance + merged.balance
    merged.balance, merged.merged_into_id, merged.updated_at = ZERO, target, utcnow()
    session.add_all([merged, survivor])
    await session.flush()
    await reevaluate(session, account=survivor, program=program, reason="merge")


async def loyalty_status(session: AsyncSession, *, customer_id: str, currency: str) -> dict[str, Any]:
    """Spend in the window, tier and discount in force now, the next tier and what it still takes."""
    replica = await session.get(CustomerReplica, customer_id)
    account = await session.get(LoyaltyAccount, customer_id)
    if replica is not None and replica.status == "merged":
        raise CustomerMerged(customer_id, replica.merged_into_id)
    if replica is None and account is None:
        raise NotFound(f"no loyalty account for customer {customer_id}", customer_id=customer_id)
    program, _ = await current_program(session, currency=currency)
    entries = await _ledger(session, customer_id)
    standing = loyalty_rules.standing(program, entries, utcnow())
    lifetime = sum((e.amount for e in entries), ZERO)
    return {
        "customer_id": customer_id, "currency": program.currency, "program_version": program.version,
        "qualifying_window": program.window, "window_months": program.window_months,
        "spend_in_window": pricing.round_money(standing.spend_in_window, program.currency),
        "lifetime_spend": pricing.round_money(lifetime, program.currency),
        "tier": _tier_public(standing.tier), "discount_percent": standing.tier.discount_percent,
        "next_tier": _tier_public(standing.next_tier) if standing.next_tier else None,
        "amount_to_next_tier": standing.amount_to_next_tier,
        "tier_changed_at": account.tier_changed_at if account else None,
    }


def _tier_public(tier: loyalty_rules.Tier) -> dict[str, Any]:
    return {"name": tier.name, "threshold": tier.threshold, "discount_percent": tier.discount_percent}


def program_public(program: loyalty_rules.Program, row: LoyaltyProgram | None) -> dict[str, Any]:
    return {"version": program.version, "currency": program.currency, "qualifying_window": program.window,
            "window_months": program.window_months, "downgrade": program.downgrade,
            "tiers": [_tier_public(t) for t in program.tiers],
            "created_by": row.created_by if row else None, "created_at": row.created_at if row else None}


async def list_ledger(session: AsyncSession, *, customer_id: str,
                      page: PageParams) -> tuple[list[LoyaltyEntry], str | None]:
    """Newest first; the cursor is the last entry id returned."""
    query = select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
    if page.cursor:
        query = query.where(LoyaltyEntry.id < cursor_value(page.cursor, "id", int))
    rows = list((await session.execute(query.order_by(LoyaltyEntry.id.desc()).limit(page.limit + 1))).scalars())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor({"id": rows[-1].id})
