"""Finding orders (``GET /orders``, ``GET /customers/{id}/orders``): the service's hot read path.

Core statements on a plain connection (``Database.read``) instead of ORM entities in a session:
loading an SQLModel object per order and per line, then a pydantic model per order, per line and
per returned amount, and FastAPI validating it all again, cost many times the queries. The lines
of a whole page come in one statement; the page is validated once, from plain dicts, in
pydantic's core, and sent with ``shared.http.responses.json_response``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orders.models import Order, OrderLine
from services.orders.schemas import OrdersPage
from services.orders.use_cases.customers import merged_into
from shared.http.errors import Unprocessable
from shared.http.pagination import PageParams, newest_first_after_cursor, time_id_cursor, time_id_page

_order = Order.__table__
_line = OrderLine.__table__
_ORDER_NAMES = [column.name for column in _order.c]
_RETURNED = {"returned_gross": "gross", "returned_discount": "discount", "returned_net": "net",
             "returned_cost": "cost"}
# What a line shows (its id is internal; its order id only groups the lines).
_LINE_COLUMNS = [_line.c[name] for name in ("order_id", "line_no", "product_id", "sku", "name", "category",
                                            "quantity", "unit_price", "unit_cost", "discount_percent",
                                            "returned_quantity", "gross", "discount", "net", "cost")]
_LINE_NAMES = [column.name for column in _LINE_COLUMNS]


def _lines_query(*, postgresql_array: bool) -> sa.Select[Any]:
    if postgresql_array:
        # One array parameter: the same statement text (prepared once) for any page.
        of_page = _line.c.order_id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
    else:
        of_page = _line.c.order_id.in_(sa.bindparam("ids", expanding=True))
    return sa.select(*_LINE_COLUMNS).where(of_page).order_by(_line.c.order_id, _line.c.line_no)


# Built once, with bound parameters: building a statement per request costs more CPU than running it.
_LINES = {True: _lines_query(postgresql_array=True), False: _lines_query(postgresql_array=False)}


@functools.cache
def _page_query(filters: frozenset[str]) -> sa.Select[Any]:
    """The page query for the filters present (their values are bound parameters), built once per combination."""
    c = _order.c
    query = sa.select(_order)
    if "customer_ids" in filters:
        query = query.where(c.customer_id.in_(sa.bindparam("customer_ids", expanding=True)))
    for name in ("sales_employee_id", "status", "channel"):
        if name in filters:
            query = query.where(c[name] == sa.bindparam(name))
    if "placed_from" in filters:
        query = query.where(c.placed_at >= sa.bindparam("placed_from"))
    if "placed_to" in filters:
        query = query.where(c.placed_at < sa.bindparam("placed_to"))
    return newest_first_after_cursor(query, c.placed_at, c.id, after_cursor="after_at" in filters)


async def list_orders(conn: AsyncConnection, *, page: PageParams, customer_id: str | None = None,
                      sales_employee_id: str | None = None, status: str | None = None,
                      channel: str | None = None, placed_from: datetime | None = None,
                      placed_to: datetime | None = None) -> OrdersPage:
    """Newest first; the cursor is the (placed_at, id) of the last order returned.

    A customer's orders include those of the customers merged into it: each order keeps the id it
    was placed for (its events are keyed by it), and the survivor's history is whole.
    """
    if placed_from and placed_to and placed_from >= placed_to:
        raise Unprocessable("placed_from must be before placed_to", field="placed_from")
    values: dict[str, Any] = {"limit": page.limit + 1}
    if customer_id:
        values["customer_ids"] = await merged_into(conn, customer_id=customer_id)
    for name, value in (("sales_employee_id", sales_employee_id), ("status", status), ("channel", channel),
                        ("placed_from", placed_from), ("placed_to", placed_to)):
        if value:
            values[name] = value
    if page.cursor:
        values["after_at"], values["after_id"] = time_id_cursor(page.cursor, "placed_at")
    rows = (await conn.execute(_page_query(frozenset(values) - {"limit"}), values)).all()
    rows, next_cursor = time_id_page(rows, page.limit, "placed_at")
    lines: Sequence[sa.Row[Any]] = []
    if rows:
        lines = (await conn.execute(_LINES[conn.dialect.name == "postgresql"], {"ids": [r.id for r in rows]})).all()
    return OrdersPage.model_validate({"items": _orders(rows, lines), "next_cursor": next_cursor})


def _orders(rows: Sequence[sa.Row[Any]], lines: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
    """The orders as plain dicts in the shape of ``OrderPublic`` (margins computed, lines attached)."""
    orders = []
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        order = dict(zip(_ORDER_NAMES, row, strict=True))
        returned = {short: order.pop(name) for name, short in _RETURNED.items()}
        returned["margin"] = returned["net"] - returned["cost"]
        order["returned"], order["margin"] = returned, order["net"] - order["cost"]
        order["lines"] = by_id[order["id"]] = []
        orders.append(order)
    for row in lines:
        line = dict(zip(_LINE_NAMES, row, strict=True))
        line["margin"] = line["net"] - line["cost"]
        by_id[line.pop("order_id")].append(line)
    return orders
