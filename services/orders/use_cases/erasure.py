"""Dropping what orders keeps about a customer the customers service erased; every figure stays.

Every text column of this service, and its fate when a customer is erased:

- customer_replica: the name is cleared and the status is erased for good; kind, segment, manager
  and ``merged_into_id`` stay (not personal; the last says whose ledger old purchases count in);
- sales_order: ``note``, ``cancel_reason`` and ``payment_reference`` (free text; a transfer
  reference often carries the payer's name) become ``REDACTED`` where set; amounts, lines,
  status, dates, channel and sales employee stay;
- order_return: ``reason`` becomes ``REDACTED`` where set; amounts and lines stay;
- idempotency_key: the answers kept for retried ``POST /orders`` and returns hold the same note,
  reasons and reference; they are redacted the same way, so a retry still gets its first answer;
- order_line, order_return_line, product, product_price, loyalty_program, loyalty_account,
  loyalty_entry: products, figures, ids and codes only.

Customers publishes one erasure per customer id (for each duplicate merged into the erased one
too), and a duplicate's orders keep its id, so each event redacts the orders of its own id.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.models import Order, OrderReturn
from services.orders.use_cases.customers import apply_customer_state
from shared.http.idempotency import IdempotencyRecord

REDACTED = "[erased]"
_ORDER_TEXT = ("note", "cancel_reason", "payment_reference")
_ANSWER_TEXT = ("note", "cancel_reason", "payment_reference", "reason")  # OrderPublic and ReturnPublic


async def erase_customer(session: AsyncSession, *, customer_id: str, erased_at: datetime,
                         revision: int | None) -> None:
    """Apply a customer's erasure: the replica forgets them, their orders' free text is redacted.

    Locks follow the service's order (order rows before replica rows): the orders are redacted
    first; then the replica row is locked and marked erased, which waits for an order being
    placed for this customer. Such an order is redacted last, without waiting for its row: while
    the replica row is held, waiting on an order row could wait on a payment that waits on the
    replica. If the row is busy the event fails and the consumer runs it again.
    """
    await _redact(session, customer_id, wait=True)
    await apply_customer_state(session, customer_id=customer_id, status="erased", state_at=erased_at,
                               source="event", revision=revision)
    await _redact(session, customer_id, wait=False)


def _unredacted(model: type[Order] | type[OrderReturn], columns: tuple[str, ...]) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(getattr(model, c).is_not(None), getattr(model, c) != REDACTED) for c in columns))


async def _redact(session: AsyncSession, customer_id: str, *, wait: bool) -> None:
    for model, columns in ((Order, _ORDER_TEXT), (OrderReturn, ("reason",))):
        ids = list((await session.execute(
            sa.select(model.id).where(model.customer_id == customer_id, _unredacted(model, columns))
            .with_for_update(nowait=not wait))).scalars())
        if ids:
            await session.execute(
                sa.update(model).where(model.id.in_(ids))
                .values({c: sa.case((getattr(model, c).is_(None), sa.null()), else_=REDACTED) for c in columns})
                .execution_options(synchronize_session=False))
    await _redact_stored_answers(session, customer_id, wait=wait)


async def _redact_stored_answers(session: AsyncSession, customer_id: str, *, wait: bool) -> None:
    """The answers ``shared.http.idempotency`` keeps, found by the customer id they name.

    Candidates are found by the quoted id alone (answers are stored compact or spaced, as each
    caller serialised them) and kept only when the parsed answer names the customer."""
    rows = (await session.execute(
        sa.select(IdempotencyRecord).where(IdempotencyRecord.response.contains(f'"{customer_id}"', autoescape=True))
        .with_for_update(nowait=not wait))).scalars().all()
    for record in rows:
        answer = json.loads(record.response or "null")
        if not isinstance(answer, dict) or answer.get("customer_id") != customer_id:
            continue
        changed = {field: REDACTED for field in _ANSWER_TEXT if answer.get(field) not in (None, REDACTED)}
        if changed:
            record.response = json.dumps({**answer, **changed}, default=str)
            session.add(record)
    await session.flush()
