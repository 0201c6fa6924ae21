"""Orders: placing them priced from the catalogue, payment, fulfilment, cancellation, finding them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import pricing
from services.orders.errors import CustomerMerged, InvalidTransition, OrderNotFound
from services.orders.models import Order, OrderLine, Product, new_id
from services.orders.pricing import ZERO
from services.orders.schemas import (
    AmountsPublic,
    CancelRequest,
    FulfilRequest,
    OrderCreate,
    OrderLinePublic,
    OrderPublic,
    PaymentCreate,
)
from services.orders.use_cases.customers import orderable_customer
from services.orders.use_cases.loyalty import (
    accrue,
    also_locking_program,
    lock_account,
    program_in_force,
    reevaluate,
    reverse,
)
from shared.bus.outbox import add_event, write_event
from shared.db.batch import insert_rows
from shared.db.types import utcnow
from shared.events.contracts import orders as events
from shared.http.errors import Unprocessable
from shared.http.history import happened_at


def instant_of(given: datetime | None, *, field: str, now: datetime,
               not_before: Sequence[tuple[str, datetime | None]] = ()) -> datetime:
    """When a command happened: ``given`` (a backdated import) or now.

    Refused (422) when in the future beyond the skew, or before an earlier step of the order
    (``not_before``: (name, instant) pairs). Without ``given`` it is now, never before those steps.
    """
    earlier = [(name, at) for name, at in not_before if at is not None]
    if given is None:
        return max([now, *(at for _, at in earlier)])
    at = happened_at(given, now=now, field=field)
    for name, step_at in earlier:
        if at < step_at:
            raise Unprocessable(f"{field} ({at.isoformat()}) is before {name} ({step_at.isoformat()})",
                                field=field, **{name: step_at.isoformat()})
    return at


# The hot path's statements, built once so that their compiled forms are cached (a multi-row
# ``.values([...])`` is never cached; an executemany of one INSERT is).
_PRODUCTS = Product.__table__  # type: ignore[attr-defined]
_SELECT_PRODUCTS = select(_PRODUCTS).where(_PRODUCTS.c.id.in_(bindparam("ids", expanding=True)))
# On PostgreSQL the products' read takes the loyalty program's lock too (one round trip less; the
# program is read in the next statement). SQLite has one writer and no such lock.
_SELECT_PRODUCTS_FOR = {"postgresql": also_locking_program(_SELECT_PRODUCTS), "sqlite": _SELECT_PRODUCTS}
_ORDERS = Order.__table__  # type: ignore[attr-defined]
_LINES = OrderLine.__table__  # type: ignore[attr-defined]


def amounts(gross: Decimal, discount: Decimal, net: Decimal, cost: Decimal) -> dict[str, Decimal]:
    return {"gross": gross, "discount": discount, "net": net, "cost": cost, "margin": net - cost}


def _line_fields(line: OrderLine) -> dict[str, Any]:
    return {"line_no": line.line_no, "product_id": line.product_id, "sku": line.sku, "name": line.name,
            "category": line.category, "quantity": line.quantity, "unit_price": line.unit_price,
            "unit_cost": line.unit_cost, "discount_percent": line.discount_percent,
            "returned_quantity": line.returned_quantity,
            **amounts(line.gross, line.discount, line.net, line.cost)}


def _returned_amounts(order: Order) -> dict[str, Decimal]:
    return amounts(order.returned_gross, order.returned_discount, order.returned_net, order.returned_cost)


def _order_event_fields(order: Order, lines: Sequence[OrderLine]) -> dict[str, Any]:
    returned = _returned_amounts(order) if order.returned_gross or order.returned_net else None
    return {"order_id": order.id, "customer_id": order.customer_id, "sales_employee_id": order.sales_employee_id,
            "channel": order.channel, "currency": order.currency, "status": order.status,
            "loyalty_tier": order.loyalty_tier, "discount_percent": order.discount_percent,
            "lines": [_line_fields(line) for line in lines], "placed_at": order.placed_at, "returned": returned,
            **amounts(order.gross, order.discount, order.net, order.cost)}


def order_public(order: Order, lines: Sequence[OrderLine]) -> OrderPublic:
    return OrderPublic.model_validate({
        **amounts(order.gross, order.discount, order.net, order.cost),
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
                      currency: str) -> tuple[Any, list[Any]]:
    """Price the lines from the catalogue with the customer's loyalty discount in force now.

    The hot path (see docs/architecture.md): Core statements built once, the order and its lines
    kept as plain rows (no ORM objects to construct, track or flush), and the answer built from
    them, never re-read. Returns attribute views of the rows (what :func:`order_public` reads).
    """
    await orderable_customer(session, customer_id=data.customer_id)  # share-locked from here on
    wanted = [line.product_id for line in data.lines]
    dialect = session.bind.dialect.name
    products = {p.id: p for p in await session.execute(_SELECT_PRODUCTS_FOR[dialect], {"ids": wanted})}
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

    now = utcnow()
    placed_at = instant_of(data.placed_at, field="placed_at", now=now)
    discount_percent, tier_name = ZERO, None
    # Every wanted product was found (above), so their read took the program lock on PostgreSQL.
    program, _ = await program_in_force(session, currency=currency, locked=dialect == "postgresql")
    if order_currency == program.currency:
        account = await lock_account(session, customer_id=data.customer_id, program=program)
        if account.merged_into_id is not None:
            # The replica said active, but this ledger was moved to a survivor: never price with it.
            raise CustomerMerged(data.customer_id, account.merged_into_id)
        standing = await reevaluate(session, account=account, program=program, reason="reevaluation",
                                    at=placed_at)
        discount_percent, tier_name = standing.tier.discount_percent, standing.tier.name

    priced, totals = pricing.price_order(
        [(pricing.CatalogPrice(pid, products[pid].unit_price, products[pid].unit_cost), line.quantity)
         for pid, line in zip(wanted, data.lines, strict=True)],
        discount_percent=discount_percent, currency=order_currency)
    if totals.gross >= pricing.MAX_ORDER_AMOUNT:
        raise Unprocessable(f"an order must total less than {pricing.MAX_ORDER_AMOUNT:f} {order_currency}",
                            field="lines")
    zero = pricing.round_money(ZERO, order_currency)
    order = {"id": new_id(), "customer_id": data.customer_id, "sales_employee_id": data.sales_employee_id,
             "channel": data.channel, "currency": order_currency, "status": "placed", "loyalty_tier": tier_name,
             "discount_percent": discount_percent, "gross": totals.gross, "discount": totals.discount,
             "net": totals.net, "cost": totals.cost, "returned_gross": zero, "returned_discount": zero,
             "returned_net": zero, "returned_cost": zero, "note": data.note, "payment_method": None,
             "payment_reference": None, "cancel_reason": None, "placed_by": actor, "placed_at": placed_at,
             "paid_at": None, "fulfilled_at": None, "cancelled_at": None, "updated_at": now}
    lines = [{"id": new_id(), "order_id": order["id"], "line_no": n, "product_id": p.product_id,
              "sku": products[p.product_id].sku, "name": products[p.product_id].name,
              "category": products[p.product_id].category, "quantity": p.quantity, "unit_price": p.unit_price,
              "unit_cost": p.unit_cost, "discount_percent": p.discount_percent, "gross": p.gross,
              "discount": p.discount, "net": p.net, "cost": p.cost, "returned_quantity": 0, "returned_net": zero}
             for n, p in enumerate(priced, start=1)]
    # Sent now, or with the outbox row and the stored answer when the transaction defers inserts
    # (POST /orders does: one round trip for all four tables on PostgreSQL).
    await insert_rows(session, _ORDERS, [order])
    await insert_rows(session, _LINES, lines)
    placed, placed_lines = SimpleNamespace(**order), [SimpleNamespace(**line) for line in lines]
    await write_event(session, events.OrderPlacedV1(**_order_event_fields(placed, placed_lines), placed_by=actor),
                      aggregate_id=placed.id, customer_id=placed.customer_id, occurred_at=placed_at)
    return placed, placed_lines


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
    paid_at = instant_of(data.paid_at, field="paid_at", now=now, not_before=[("placed_at", order.placed_at)])
    order.status, order.paid_at = "paid", paid_at
    order.payment_method, order.payment_reference = data.method, data.reference
    lines = await _touch(session, order, now)
    add_event(session, events.OrderPaidV2(**_order_event_fields(order, lines), paid_at=paid_at,
                                          payment_method=order.payment_method),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=paid_at)
    await accrue(session, order=order, currency=currency)
    return order, lines


async def fulfil_order(session: AsyncSession, *, order_id: str,
                       data: FulfilRequest | None = None) -> tuple[Order, list[OrderLine]]:
    """Mark a paid order delivered. Fulfilling a fulfilled order changes nothing."""
    order = await get_order(session, order_id=order_id, for_update=True)
    if order.status == "fulfilled":
        return order, (await order_lines(session, [order.id]))[order.id]
    if order.status != "paid":
        raise InvalidTransition(f"only a paid order can be fulfilled; this one is {order.status}",
                                order_id=order.id, status=order.status)
    now = utcnow()
    fulfilled_at = instant_of(data.fulfilled_at if data else None, field="fulfilled_at", now=now,
                              not_before=[("placed_at", order.placed_at), ("paid_at", order.paid_at)])
    order.status, order.fulfilled_at = "fulfilled", fulfilled_at
    lines = await _touch(session, order, now)
    add_event(session, events.OrderFulfilledV1(**_order_event_fields(order, lines), fulfilled_at=fulfilled_at),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=fulfilled_at)
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
    cancelled_at = instant_of(data.cancelled_at, field="cancelled_at", now=now,
                              not_before=[("placed_at", order.placed_at), ("paid_at", order.paid_at)])
    if was_paid:
        reversed_amounts = amounts(order.gross - order.returned_gross, order.discount - order.returned_discount,
                                   order.net - order.returned_net, order.cost - order.returned_cost)
    else:
        zero = pricing.round_money(ZERO, order.currency)
        reversed_amounts = amounts(zero, zero, zero, zero)
    order.status, order.cancelled_at, order.cancel_reason = "cancelled", cancelled_at, data.reason
    lines = await _touch(session, order, now)
    add_event(session, events.OrderCancelledV2(**_order_event_fields(order, lines), cancelled_at=cancelled_at,
                                               was_paid=was_paid,
                                               reversed=events.Amounts(**reversed_amounts)),
              aggregate_id=order.id, customer_id=order.customer_id, occurred_at=cancelled_at)
    if was_paid:
        await reverse(session, order=order, kind="cancellation", ref="", amount=None, currency=currency,
                      at=cancelled_at)
    return order, lines
