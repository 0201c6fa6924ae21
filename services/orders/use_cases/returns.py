"""Returns of goods of paid orders, whole or in part."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import pricing
from services.orders.errors import InvalidTransition
from services.orders.models import OrderReturn, OrderReturnLine
from services.orders.pricing import ZERO
from services.orders.schemas import ReturnCreate, ReturnLinePublic, ReturnPublic
from services.orders.use_cases.loyalty import reverse
from services.orders.use_cases.orders import amounts, get_order, happened_at, order_lines
from shared.bus.outbox import add_event
from shared.db.types import utcnow
from shared.events.contracts import orders as events
from shared.http.errors import Conflict, Unprocessable


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
    returned_at = happened_at(data.returned_at, now=now, not_before=[("paid", order.paid_at)], field="returned_at")
    order_return = OrderReturn(order_id=order.id, customer_id=order.customer_id, reason=data.reason,
                               gross=ZERO, discount=ZERO, net=ZERO, cost=ZERO, created_by=actor,
                               created_at=returned_at)
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
    add_event(session, events.OrderReturnedV2(
        return_id=order_return.id, order_id=order.id, customer_id=order.customer_id,
        sales_employee_id=order.sales_employee_id, channel=order.channel, currency=order.currency,
        returned_at=returned_at, order_paid_at=order.paid_at,
        fully_returned=all(line.returned_quantity == line.quantity for line in lines),
        lines=[events.ReturnedLineV1(line_no=r.line_no, product_id=r.product_id, sku=by_product[r.product_id].sku,
                                     category=by_product[r.product_id].category, quantity=r.quantity,
                                     **amounts(r.gross, r.discount, r.net, r.cost)) for r in return_lines],
        **amounts(totals.gross, totals.discount, totals.net, totals.cost)),
        aggregate_id=order.id, customer_id=order.customer_id, occurred_at=returned_at)
    await reverse(session, order=order, kind="return", ref=order_return.id, amount=totals.net, currency=currency)
    return order_return, return_lines


def return_public(order_return: OrderReturn, lines: Sequence[OrderReturnLine]) -> ReturnPublic:
    return ReturnPublic.model_validate({
        "id": order_return.id, "order_id": order_return.order_id, "customer_id": order_return.customer_id,
        "reason": order_return.reason, "created_by": order_return.created_by, "created_at": order_return.created_at,
        "lines": [ReturnLinePublic.model_validate({"line_no": r.line_no, "product_id": r.product_id,
                                                   "quantity": r.quantity,
                                                   **amounts(r.gross, r.discount, r.net, r.cost)})
                  for r in lines],
        **amounts(order_return.gross, order_return.discount, order_return.net, order_return.cost),
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
