"""Use cases of the orders service.

Each function takes the caller's session and keyword-only arguments, changes state, adds its
events to the outbox and never commits: the router (or the consumer runner) commits state and
events together.

Locks, always taken in this order so that no two transactions wait on each other in a cycle:
an order row (``FOR UPDATE``); customer replica rows (``FOR SHARE`` to follow a customer to the
survivor of its merges, ``FOR UPDATE`` to change one), each chain from the duplicate towards its
survivor; the loyalty program lock (a transaction-scoped advisory lock: shared to price or count
spend, exclusive to replace the program); then loyalty account rows (``FOR UPDATE``; two at once
in id order, or along a chain of merges). The account row is the per-customer lock that
serialises that customer's ledger and tier. SQLite serialises all writers anyway
(``BEGIN IMMEDIATE``), so there the row locks and the program lock are no-ops.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import loyalty, pricing
from services.orders.customers_client import CustomerFacts
from services.orders.errors import (
    CustomerErased,
    CustomerMerged,
    CustomerUnknown,
    InvalidTransition,
    OrderNotFound,
    ProductNotFound,
)
from services.orders.models import (
    CustomerReplica,
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyProgram,
    Order,
    OrderLine,
    OrderReturn,
    OrderReturnLine,
    Product,
    ProductPrice,
)
from services.orders.schemas import (
    AmountsPublic,
    CancelRequest,
    OrderCreate,
    OrderLinePublic,
    OrderPublic,
    PaymentCreate,
    ProductCreate,
    ProductUpdate,
    ProgramUpdate,
    ReturnCreate,
    ReturnLinePublic,
    ReturnPublic,
)
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import orders as events
from shared.http.errors import Conflict, NotFound, Unprocessable
from shared.http.pagination import PageParams, cursor_value, encode_cursor, time_id_cursor, time_id_page

ZERO = Decimal("0")
# Shared by whoever prices an order or counts spend, exclusive while the program is replaced.
_PROGRAM_LOCK = zlib.crc32(b"pelanggan-orders-loyalty-program")
SHARE: dict[str, Any] = {"read": True}  # SELECT ... FOR SHARE


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


def _money_checked(amount: Decimal, currency: str, field: str) -> Decimal:
    try:
        whole = pricing.is_whole_minor_units(amount, currency)
    except pricing.PricingError as exc:
        raise Unprocessable(str(exc), field="currency") from exc
    if not whole:
        raise Unprocessable(f"{field} must be a whole amount of {currency}'s minor unit "
                            f"({pricing.minor_digits(currency)} decimals)", field=field)
    return pricing.round_money(amount, currency)


# ===== catalogue ================================================================================

def _product_search_text(sku: str, name: str) -> str:
    return f"{sku} {name}".lower()


def _product_event_fields(product: Product) -> dict[str, Any]:
    return {"product_id": product.id, "sku": product.sku, "name": product.name, "category": product.category,
            "unit_price": product.unit_price, "unit_cost": product.unit_cost, "currency": product.currency,
            "active": product.active, "price_effective_at": product.price_effective_at}


async def _refuse_taken_sku(session: AsyncSession, sku: str, *, own_id: str | None) -> None:
    existing = await session.scalar(select(Product.id).where(Product.sku == sku))
    if existing is not None and existing != own_id:
        raise Conflict(f"sku {sku} is already used by product {existing}", sku=sku, existing_product_id=existing)


async def _flush_unique_sku(session: AsyncSession, sku: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request took the sku between our check and insert
        raise Conflict(f"sku {sku} is already used by another product", sku=sku) from exc


async def create_product(session: AsyncSession, *, data: ProductCreate, actor: str, default_currency: str) -> Product:
    """Add a product to the catalogue with its first price period."""
    currency = data.currency or default_currency
    unit_price = _money_checked(data.unit_price, currency, "unit_price")
    unit_cost = _money_checked(data.unit_cost, currency, "unit_cost")
    await _refuse_taken_sku(session, data.sku, own_id=None)
    now = utcnow()
    product = Product(sku=data.sku, name=data.name, category=data.category, unit_price=unit_price,
                      unit_cost=unit_cost, currency=currency, active=data.active,
                      search_text=_product_search_text(data.sku, data.name), price_effective_at=now,
                      created_by=actor, created_at=now, updated_at=now)
    session.add(product)
    await _flush_unique_sku(session, data.sku)
    session.add(ProductPrice(product_id=product.id, unit_price=unit_price, unit_cost=unit_cost, currency=currency,
                             effective_at=now, recorded_by=actor))
    add_event(session, events.ProductCreatedV1(**_product_event_fields(product)), aggregate_id=product.id,
              occurred_at=now)
    return product


async def get_product(session: AsyncSession, *, product_id: str, for_update: bool = False) -> Product:
    product = await session.get(Product, product_id, with_for_update=for_update or None,
                                populate_existing=for_update)
    if product is None:
        raise ProductNotFound(product_id)
    return product


async def update_product(session: AsyncSession, *, product_id: str, data: ProductUpdate, actor: str) -> Product:
    """Change a product; a new price or cost closes the current price period and opens another."""
    product = await get_product(session, product_id=product_id, for_update=True)
    fields = data.model_fields_set
    changed: list[str] = []
    if "sku" in fields and data.sku != product.sku:
        assert data.sku is not None
        await _refuse_taken_sku(session, data.sku, own_id=product.id)
        product.sku = data.sku
        changed.append("sku")
    for name in ("unit_price", "unit_cost"):
        if name in fields:
            value = _money_checked(getattr(data, name), product.currency, name)
            if value != getattr(product, name):
                setattr(product, name, value)
                changed.append(name)
    for name in ("name", "category", "active"):
        if name in fields and getattr(data, name) != getattr(product, name):
            setattr(product, name, getattr(data, name))
            changed.append(name)
    if not changed:
        return product
    now = utcnow()
    if {"unit_price", "unit_cost"} & set(changed):
        product.price_effective_at = now
        session.add(ProductPrice(product_id=product.id, unit_price=product.unit_price,
                                 unit_cost=product.unit_cost, currency=product.currency, effective_at=now,
                                 recorded_by=actor))
    product.search_text = _product_search_text(product.sku, product.name)
    product.updated_at = now
    session.add(product)
    await _flush_unique_sku(session, product.sku)
    add_event(session, events.ProductUpdatedV1(**_product_event_fields(product), changed_fields=sorted(changed)),
              aggregate_id=product.id, occurred_at=now)
    return product


async def list_products(session: AsyncSession, *, page: PageParams, category: str | None = None,
                        active: bool | None = None, search: str | None = None) -> tuple[list[Product], str | None]:
    """By sku; the cursor is the last sku returned."""
    query = select(Product)
    if category:
        query = query.where(Product.category == category.strip().lower())
    if active is not None:
        query = query.where(Product.active.is_(active))
    if search:
        needle = search.strip().lower()
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Product.search_text.like(pattern, escape="\\"))
    if page.cursor:
        query = query.where(Product.sku > cursor_value(page.cursor, "sku"))
    rows = list((await session.execute(query.order_by(Product.sku).limit(page.limit + 1))).scalars())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor({"sku": rows[-1].sku})


async def price_history(session: AsyncSession, *, product_id: str) -> list[ProductPrice]:
    """Price and cost periods, the current one first."""
    await get_product(session, product_id=product_id)
    return list((await session.execute(
        select(ProductPrice).where(ProductPrice.product_id == product_id)
        .order_by(ProductPrice.effective_at.desc(), ProductPrice.id)
    )).scalars())


# ===== the customer replica =====================================================================

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
            _insert(session)(CustomerReplica).values(**values).on_conflict_do_nothing(index_elements=["customer_id"]))
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


async def record_customer_facts(session: AsyncSession, *, facts: CustomerFacts) -> CustomerReplica:
    """Keep what the customers service answered over HTTP, so the next order needs no call."""
    return await apply_customer_state(
        session, customer_id=facts.customer_id, status=facts.status, state_at=facts.observed_at, source="http",
        kind=facts.kind, name=facts.name, segment=facts.segment, manager_id=facts.manager_id,
        merged_into_id=facts.merged_into_id, revision=facts.revision)


async def orderable_customer(session: AsyncSession, *, customer_id: str) -> CustomerReplica:
    """The customer if new orders may be placed for them; else the reason why not.

    The replica row is share-locked to the end of the transaction: a merge or erasure being
    applied is waited for and then seen, and none can be applied while the order is placed.
    """
    row = await session.get(CustomerReplica, customer_id, with_for_update=SHARE, populate_existing=True)
    if row is None:
        raise CustomerUnknown(customer_id)
    if row.status == "merged":
        raise CustomerMerged(customer_id, row.merged_into_id)
    if row.status == "erased":
        raise CustomerErased(customer_id)
    return row


async def _loyalty_owner(session: AsyncSession, customer_id: str) -> str:
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


# ===== loyalty ==================================================================================

def _program_from_row(row: LoyaltyProgram) -> loyalty.Program:
    return loyalty.Program(
        version=row.version, currency=row.currency, window=row.qualifying_window,  # type: ignore[arg-type]
        window_months=row.window_months, downgrade=row.downgrade,  # type: ignore[arg-type]
        tiers=tuple(loyalty.Tier(name=t["name"], threshold=Decimal(t["threshold"]),
                                 discount_percent=Decimal(t["discount_percent"])) for t in row.tiers))


async def current_program(session: AsyncSession, *, currency: str) -> tuple[loyalty.Program, LoyaltyProgram | None]:
    row = await session.scalar(select(LoyaltyProgram).order_by(LoyaltyProgram.version.desc()).limit(1))
    if row is None:
        return loyalty.default_program(currency), None
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


async def program_in_force(session: AsyncSession, *, currency: str,
                           exclusive: bool = False) -> tuple[loyalty.Program, LoyaltyProgram | None]:
    """The current program, read after taking the program lock (so it stays current to the commit)."""
    await _lock_program(session, exclusive=exclusive)
    return await current_program(session, currency=currency)


async def put_program(session: AsyncSession, *, data: ProgramUpdate, actor: str,
                      currency: str) -> tuple[loyalty.Program, LoyaltyProgram, int]:
    """Replace the program with a new version and re-evaluate every customer's tier under it."""
    if data.currency is not None and data.currency != currency:
        raise Unprocessable(f"the loyalty program counts spend in {currency}", field="currency")
    previous, _ = await program_in_force(session, currency=currency, exclusive=True)
    program = loyalty.Program(
        version=previous.version + 1, currency=currency, window=data.qualifying_window,
        window_months=data.window_months, downgrade=data.downgrade,
        tiers=tuple(loyalty.Tier(name=t.name, threshold=t.threshold, discount_percent=t.discount_percent)
                    for t in data.tiers))
    try:
        loyalty.validate_program(program)
    except loyalty.ProgramError as exc:
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


async def _lock_account(session: AsyncSession, *, customer_id: str, program: loyalty.Program) -> LoyaltyAccount:
    """The customer's account row, locked (created at the base tier on first use)."""
    account = await session.get(LoyaltyAccount, customer_id, with_for_update=True, populate_existing=True)
    if account is not None:
        return account
    now = utcnow()
    await session.execute(
        _insert(session)(LoyaltyAccount)
        .values(customer_id=customer_id, currency=program.currency, balance=ZERO, tier=program.base.name,
                discount_percent=program.base.discount_percent, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["customer_id"]))
    account = await session.get(LoyaltyAccount, customer_id, with_for_update=True, populate_existing=True)
    assert account is not None
    return account


async def _follow_merges(session: AsyncSession, *, account: LoyaltyAccount,
                         program: loyalty.Program) -> LoyaltyAccount:
    """From a locked account to the locked account its ledger now lives in: a merge committed while
    we waited for the lock has moved it on (``merged_into_id``), maybe more than once."""
    seen = {account.customer_id}
    while account.merged_into_id is not None and account.merged_into_id not in seen:
        seen.add(account.merged_into_id)
        account = await _lock_account(session, customer_id=account.merged_into_id, program=program)
    return account


async def _ledger(session: AsyncSession, customer_id: str) -> list[loyalty.Entry]:
    # Summed in Python: SQL SUM over SQLite's text decimals would go through floats.
    rows = (await session.execute(
        select(LoyaltyEntry.effective_at, LoyaltyEntry.amount).where(LoyaltyEntry.customer_id == customer_id)
    )).all()
    return [loyalty.Entry(effective_at=at, amount=amount) for at, amount in rows]


async def _reevaluate(session: AsyncSession, *, account: LoyaltyAccount, program: loyalty.Program,
                      reason: str, order_id: str | None = None) -> loyalty.Standing:
    """Recompute the tier from the ledger; announce it when it changed. The account must be locked."""
    now = utcnow()
    standing = loyalty.standing(program, await _ledger(session, account.customer_id), now)
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
        _insert(session)(LoyaltyEntry)
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


async def _accrue(session: AsyncSession, *, order: Order, currency: str) -> None:
    """A paid order counts its net towards the customer's loyalty, dated at the payment, in the
    ledger of the survivor of the customer's merges."""
    assert order.paid_at is not None
    owner = await _loyalty_owner(session, order.customer_id)
    program, _ = await program_in_force(session, currency=currency)
    if order.currency != program.currency:
        return  # spend in another currency does not count towards the program
    account = await _lock_account(session, customer_id=owner, program=program)
    account = await _follow_merges(session, account=account, program=program)
    if await _record_entry(session, account=account, order_id=order.id, kind="accrual", ref="", amount=order.net,
                           effective_at=order.paid_at):
        await _reevaluate(session, account=account, program=program, reason="accrual", order_id=order.id)


async def _reverse(session: AsyncSession, *, order: Order, kind: str, ref: str, amount: Decimal | None,
                   currency: str) -> None:
    """Take back ``amount`` (or all that is left) of an order's accrual, dated at the accrual, in
    the ledger that holds the accrual (the survivor's, after merges)."""
    program, _ = await program_in_force(session, currency=currency)
    for _attempt in range(3):
        accrual = await session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.order_id == order.id,
                                                                  LoyaltyEntry.kind == "accrual"))
        if accrual is None:
            return  # never accrued: nothing to reverse
        account = await _lock_account(session, customer_id=accrual.customer_id, program=program)
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
        await _reevaluate(session, account=account, program=program, reason=kind, order_id=order.id)


async def reevaluate_all(session: AsyncSession, *, program: loyalty.Program | None = None,
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
        account = await _lock_account(session, customer_id=customer_id, program=program)
        before = (account.tier, account.discount_percent)
        await _reevaluate(session, account=account, program=program, reason=reason)
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
    target = await _loyalty_owner(session, survivor_id)
    program, _ = await program_in_force(session, currency=merged.currency)
    seen = {merged_id}
    while True:
        if target in seen:
            return  # a cycle of merges: customers never makes one; leave the ledger where it is
        accounts = {}
        for customer_id in sorted([merged_id, target]):  # lock in id order: no deadlock with a reverse merge
            accounts[customer_id] = await _lock_account(session, customer_id=customer_id, program=program)
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
    await _reevaluate(session, account=survivor, program=program, reason="merge")


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
    standing = loyalty.standing(program, entries, utcnow())
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


def _tier_public(tier: loyalty.Tier) -> dict[str, Any]:
    return {"name": tier.name, "threshold": tier.threshold, "discount_percent": tier.discount_percent}


def program_public(program: loyalty.Program, row: LoyaltyProgram | None) -> dict[str, Any]:
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


# ===== orders ===================================================================================

def _amounts(gross: Decimal, discount: Decimal, net: Decimal, cost: Decimal) -> dict[str, Decimal]:
    return {"gross": gross, "discount": discount, "net": net, "cost": cost, "margin": net - cost}


def _line_fields(line: OrderLine) -> dict[str, Any]:
    return {"line_no": line.line_no, "product_id": line.product_id, "sku": line.sku, "name": line.name,
            "category": line.category, "quantity": line.quantity, "unit_price": line.unit_price,
            "unit_cost": line.unit_cost, "discount_percent": line.discount_percent,
            "returned_quantity": line.returned_quantity,
            **_amounts(line.gross, line.discount, line.net, line.cost)}


def _returned_amounts(order: Order) -> dict[str, Decimal]:
    return _amounts(order.returned_gross, order.returned_discount, order.returned_net, order.returned_cost)


def _order_event_fields(order: Order, lines: Sequence[OrderLine]) -> dict[str, Any]:
    returned = _returned_amounts(order) if order.returned_gross or order.returned_net else None
    return {"order_id": order.id, "customer_id": order.customer_id, "sales_employee_id": order.sales_employee_id,
            "channel": order.channel, "currency": order.currency, "status": order.status,
            "loyalty_tier": order.loyalty_tier, "discount_percent": order.discount_percent,
            "lines": [_line_fields(line) for line in lines], "placed_at": order.placed_at, "returned": returned,
            **_amounts(order.gross, order.discount, order.net, order.cost)}


def order_public(order: Order, lines: Sequence[OrderLine]) -> OrderPublic:
    return OrderPublic.model_validate({
        **_amounts(order.gross, order.discount, order.net, order.cost),
        "id": order.id, "customer_id": order.customer_id, "sales_employee_id": order.sales_employee_id,
        "channel": order.channel, "currency": order.currency, "status": order.status,
        "loyalty_tier": order.loyalty_tier, "discount_percent": order.discount_percent,
        "returned": AmountsPublic(**_returned_amounts(order)),
        "lines": [OrderLinePublic.model_validate(_line_fields(line)) for line in lines],
        "note": order.note, "payment_method": order.payment_method, "payment_reference": order.payment_reference,
        "cancel_reason": order.cancel_reason, "placed_by": order.placed_by, "placed_at": order.placed_at,
        "paid_at": order.paid_at, "fulfilled_at": order.fulfilled_at, "cancelled_at": order.cancelled_at,
        "updated_at": order.updated_at,
    })


async def place_order(session: AsyncSession, *, data: OrderCreate, actor: str,
                      currency: str) -> tuple[Order, list[OrderLine]]:
    """Price the lines from the catalogue with the customer's loyalty discount in force now."""
    await orderable_customer(session, customer_id=data.customer_id)  # share-locked from here on
    wanted = [line.product_id for line in data.lines]
    products = {p.id: p for p in (await session.execute(select(Product).where(Product.id.in_(wanted)))).scalars()}
    missing = [pid for pid in wanted if pid not in products]
    if missing:
        raise Unprocessable(f"unknown product{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                            field="lines", product_ids=missing)
    inactive = [pid for pid in wanted if not products[pid].active]
    if inactive:
        raise Unprocessable(f"no longer sold (inactive): {', '.join(products[p].sku for p in inactive)}",
                            field="lines", product_ids=inactive)
    currencies = sorted({products[pid].currency for pid in wanted})
    if len(currencies) > 1:
        raise Unprocessable(f"one order is in one currency; these products are in {', '.join(currencies)}",
                            field="lines", currencies=currencies)
    order_currency = currencies[0]

    discount_percent, tier_name = ZERO, None
    program, _ = await program_in_force(session, currency=currency)
    if order_currency == program.currency:
        account = await _lock_account(session, customer_id=data.customer_id, program=program)
        if account.merged_into_id is not None:
            # The replica said active, but this ledger was moved to a survivor: never price with it.
            raise CustomerMerged(data.customer_id, account.merged_into_id)
        standing = await _reevaluate(session, account=account, program=program, reason="reevaluation")
        discount_percent, tier_name = standing.tier.discount_percent, standing.tier.name

    priced, totals = pricing.price_order(
        [(pricing.CatalogPrice(pid, products[pid].unit_price, products[pid].unit_cost), line.quantity)
         for pid, line in zip(wanted, data.lines, strict=True)],
        discount_percent=discount_percent, currency=order_currency)
    if totals.gross >= pricing.MAX_ORDER_AMOUNT:
        raise Unprocessable(f"an order must total less than {pricing.MAX_ORDER_AMOUNT:f} {order_currency}",
                            field="lines")
    now = utcnow()
    zero = pricing.round_money(ZERO, order_currency)
    order = Order(customer_id=data.customer_id, sales_employee_id=data.sales_employee_id, channel=data.channel,
                  currency=order_currency, status="placed", loyalty_tier=tier_name, discount_percent=discount_percent,
                  gross=totals.gross, discount=totals.discount, net=totals.net, cost=totals.cost,
                  returned_gross=zero, returned_discount=zero, returned_net=zero, returned_cost=zero,
                  note=data.note, placed_by=actor, placed_at=now, updated_at=now)
    session.add(order)
    await session.flush()
    lines = [OrderLine(order_id=order.id, line_no=n, product_id=p.product_id, sku=products[p.product_id].sku,
                       name=products[p.product_id].name, category=products[p.product_id].category,
                       quantity=p.quantity, unit_price=p.unit_price, unit_cost=p.unit_cost,
                       discount_percent=p.discount_percent, gross=p.gross, discount=p.discount, net=p.net,
                       cost=p.cost, returned_quantity=0, returned_net=zero)
             for n, p in enumerate(priced, start=1)]
    session.add_all(lines)
    await session.flush()
    add_event(session, events.OrderPlacedV1(**_order_event_fields(order, lines), placed_by=actor),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=now)
    return order, lines


async def get_order(session: AsyncSession, *, order_id: str, for_update: bool = False) -> Order:
    order = await session.get(Order, order_id, with_for_update=for_update or None, populate_existing=for_update)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def order_lines(session: AsyncSession, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
    result: dict[str, list[OrderLine]] = {oid: [] for oid in order_ids}
    if not order_ids:
        return result
    rows = (await session.execute(select(OrderLine).where(OrderLine.order_id.in_(list(order_ids)))
                                  .order_by(OrderLine.order_id, OrderLine.line_no))).scalars()
    for line in rows:
        result[line.order_id].append(line)
    return result


async def _touch(session: AsyncSession, order: Order, now: datetime) -> list[OrderLine]:
    order.updated_at = now
    session.add(order)
    await session.flush()
    return (await order_lines(session, [order.id]))[order.id]


async def pay_order(session: AsyncSession, *, order_id: str, data: PaymentCreate,
                    currency: str) -> tuple[Order, list[OrderLine]]:
    """Record payment; the net accrues to the customer's loyalty. Paying a paid order changes nothing."""
    order = await get_order(session, order_id=order_id, for_update=True)
    if order.status in ("paid", "fulfilled"):
        return order, (await order_lines(session, [order.id]))[order.id]
    if order.status == "cancelled":
        raise InvalidTransition("a cancelled order cannot be paid", order_id=order.id, status=order.status)
    now = utcnow()
    order.status, order.paid_at = "paid", now
    order.payment_method, order.payment_reference = data.method, data.reference
    lines = await _touch(session, order, now)
    add_event(session, events.OrderPaidV1(**_order_event_fields(order, lines), paid_at=now,
                                          payment_method=order.payment_method,
                                          payment_reference=order.payment_reference),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=now)
    await _accrue(session, order=order, currency=currency)
    return order, lines


async def fulfil_order(session: AsyncSession, *, order_id: str) -> tuple[Order, list[OrderLine]]:
    """Mark a paid order delivered. Fulfilling a fulfilled order changes nothing."""
    order = await get_order(session, order_id=order_id, for_update=True)
    if order.status == "fulfilled":
        return order, (await order_lines(session, [order.id]))[order.id]
    if order.status != "paid":
        raise InvalidTransition(f"only a paid order can be fulfilled; this one is {order.status}",
                                order_id=order.id, status=order.status)
    now = utcnow()
    order.status, order.fulfilled_at = "fulfilled", now
    lines = await _touch(session, order, now)
    add_event(session, events.OrderFulfilledV1(**_order_event_fields(order, lines), fulfilled_at=now),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=now)
    return order, lines


async def cancel_order(session: AsyncSession, *, order_id: str, data: CancelRequest,
                       currency: str) -> tuple[Order, list[OrderLine]]:
    """Cancel before fulfilment; a paid order's remaining loyalty accrual is reversed exactly.
    Cancelling a cancelled order changes nothing."""
    order = await get_order(session, order_id=order_id, for_update=True)
    if order.status == "cancelled":
        return order, (await order_lines(session, [order.id]))[order.id]
    if order.status == "fulfilled":
        raise InvalidTransition("a fulfilled order cannot be cancelled; return the goods instead",
                                order_id=order.id, status=order.status)
    was_paid = order.status == "paid"
    now = utcnow()
    if was_paid:
        reversed_amounts = _amounts(order.gross - order.returned_gross, order.discount - order.returned_discount,
                                    order.net - order.returned_net, order.cost - order.returned_cost)
    else:
        zero = pricing.round_money(ZERO, order.currency)
        reversed_amounts = _amounts(zero, zero, zero, zero)
    order.status, order.cancelled_at, order.cancel_reason = "cancelled", now, data.reason
    lines = await _touch(session, order, now)
    add_event(session, events.OrderCancelledV1(**_order_event_fields(order, lines), cancelled_at=now,
                                               reason=data.reason, was_paid=was_paid,
                                               reversed=events.Amounts(**reversed_amounts)),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=now)
    if was_paid:
        await _reverse(session, order=order, kind="cancellation", ref="", amount=None, currency=currency)
    return order, lines


async def create_return(session: AsyncSession, *, order_id: str, data: ReturnCreate, actor: str,
                        currency: str) -> tuple[OrderReturn, list[OrderReturnLine]]:
    """Take back goods of a paid order: never more than bought minus already returned; the amounts are
    pro-rated from each line's recorded net and reversed from the customer's loyalty."""
    order = await get_order(session, order_id=order_id, for_update=True)
    if order.status == "placed":
        raise InvalidTransition("goods are returned after payment; cancel an unpaid order instead",
                                order_id=order.id, status=order.status)
    if order.status == "cancelled":
        raise InvalidTransition("a cancelled order has nothing to return", order_id=order.id, status=order.status)
    lines = (await order_lines(session, [order.id]))[order.id]
    by_product = {line.product_id: line for line in lines}
    if data.lines is None:
        wanted = [(line, line.quantity - line.returned_quantity) for line in lines
                  if line.quantity > line.returned_quantity]
        if not wanted:
            raise Conflict("everything on this order was already returned", order_id=order.id)
    else:
        wanted = []
        for item in data.lines:
            line = by_product.get(item.product_id)
            if line is None:
                raise Unprocessable(f"product {item.product_id} is not on this order", field="lines",
                                    product_id=item.product_id)
            returnable = line.quantity - line.returned_quantity
            if item.quantity > returnable:
                raise Conflict(f"only {returnable} of the {line.quantity} units of {line.sku} can still be returned",
                               order_id=order.id, product_id=line.product_id, requested=item.quantity,
                               returnable=returnable)
            wanted.append((line, item.quantity))

    now = utcnow()
    order_return = OrderReturn(order_id=order.id, customer_id=order.customer_id, reason=data.reason,
                               gross=ZERO, discount=ZERO, net=ZERO, cost=ZERO, created_by=actor, created_at=now)
    session.add(order_return)
    await session.flush()
    return_lines: list[OrderReturnLine] = []
    for line, quantity in sorted(wanted, key=lambda pair: pair[0].line_no):
        part = pricing.prorate_return(line_quantity=line.quantity, line_net=line.net, unit_price=line.unit_price,
                                      unit_cost=line.unit_cost, already_returned=line.returned_quantity,
                                      quantity=quantity, currency=order.currency)
        return_lines.append(OrderReturnLine(return_id=order_return.id, order_line_id=line.id, line_no=line.line_no,
                                            product_id=line.product_id, quantity=quantity, gross=part.gross,
                                            discount=part.discount, net=part.net, cost=part.cost))
        line.returned_quantity += quantity
        line.returned_net = line.returned_net + part.net
        session.add(line)
    totals = pricing.sum_totals(((r.gross, r.discount, r.net, r.cost) for r in return_lines), order.currency)
    order_return.gross, order_return.discount = totals.gross, totals.discount
    order_return.net, order_return.cost = totals.net, totals.cost
    order.returned_gross = order.returned_gross + totals.gross
    order.returned_discount = order.returned_discount + totals.discount
    order.returned_net = order.returned_net + totals.net
    order.returned_cost = order.returned_cost + totals.cost
    order.updated_at = now
    session.add_all([order, order_return, *return_lines])
    await session.flush()
    assert order.paid_at is not None
    add_event(session, events.OrderReturnedV1(
        return_id=order_return.id, order_id=order.id, customer_id=order.customer_id,
        sales_employee_id=order.sales_employee_id, channel=order.channel, currency=order.currency,
        reason=data.reason, returned_at=now, order_paid_at=order.paid_at,
        fully_returned=all(line.returned_quantity == line.quantity for line in lines),
        lines=[events.ReturnedLineV1(line_no=r.line_no, product_id=r.product_id, sku=by_product[r.product_id].sku,
                                     category=by_product[r.product_id].category, quantity=r.quantity,
                                     **_amounts(r.gross, r.discount, r.net, r.cost)) for r in return_lines],
        **_amounts(totals.gross, totals.discount, totals.net, totals.cost)),
        aggregate_id=order.id, customer_id=order.customer_id, occurred_at=now)
    await _reverse(session, order=order, kind="return", ref=order_return.id, amount=totals.net, currency=currency)
    return order_return, return_lines


def return_public(order_return: OrderReturn, lines: Sequence[OrderReturnLine]) -> ReturnPublic:
    return ReturnPublic.model_validate({
        "id": order_return.id, "order_id": order_return.order_id, "customer_id": order_return.customer_id,
        "reason": order_return.reason, "created_by": order_return.created_by, "created_at": order_return.created_at,
        "lines": [ReturnLinePublic.model_validate({"line_no": r.line_no, "product_id": r.product_id,
                                                   "quantity": r.quantity,
                                                   **_amounts(r.gross, r.discount, r.net, r.cost)})
                  for r in lines],
        **_amounts(order_return.gross, order_return.discount, order_return.net, order_return.cost),
    })


async def list_returns(session: AsyncSession, *, order_id: str) -> list[tuple[OrderReturn, list[OrderReturnLine]]]:
    await get_order(session, order_id=order_id)
    returns = list((await session.execute(select(OrderReturn).where(OrderReturn.order_id == order_id)
                                          .order_by(OrderReturn.created_at, OrderReturn.id))).scalars())
    lines: dict[str, list[OrderReturnLine]] = {r.id: [] for r in returns}
    if returns:
        for row in (await session.execute(select(OrderReturnLine).where(OrderReturnLine.return_id.in_(list(lines)))
                                          .order_by(OrderReturnLine.line_no))).scalars():
            lines[row.return_id].append(row)
    return [(r, lines[r.id]) for r in returns]


async def list_orders(session: AsyncSession, *, page: PageParams, customer_id: str | None = None,
                      sales_employee_id: str | None = None, status: str | None = None,
                      channel: str | None = None, placed_from: datetime | None = None,
                      placed_to: datetime | None = None) -> tuple[list[Order], str | None]:
    """Newest first; the cursor is the (placed_at, id) of the last order returned."""
    if placed_from and placed_to and placed_from >= placed_to:
        raise Unprocessable("placed_from must be before placed_to", field="placed_from")
    query = select(Order)
    if customer_id:
        query = query.where(Order.customer_id == customer_id)
    if sales_employee_id:
        query = query.where(Order.sales_employee_id == sales_employee_id)
    if status:
        query = query.where(Order.status == status)
    if channel:
        query = query.where(Order.channel == channel)
    if placed_from:
        query = query.where(Order.placed_at >= placed_from)
    if placed_to:
        query = query.where(Order.placed_at < placed_to)
    if page.cursor:
        after_at, after_id = time_id_cursor(page.cursor, "placed_at")
        query = query.where(or_(Order.placed_at < after_at, and_(Order.placed_at == after_at, Order.id < after_id)))
    rows = (await session.execute(
        query.order_by(Order.placed_at.desc(), Order.id.desc()).limit(page.limit + 1))).scalars().all()
    return time_id_page(rows, page.limit, "placed_at")
