"""Adding an event to the outbox, inside the caller's transaction.

Use cases call ``add_event`` with the same session that changes state; the caller commits both
together, so an event exists if and only if its state change does. The relay publishes later.
Hot paths that write with Core statements await :func:`write_event` instead: the same row, sent
at once as one INSERT, without the ORM unit of work a pending object costs at the flush.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.tables import OutboxMessage
from shared.db.batch import insert_rows
from shared.db.types import utcnow
from shared.events.envelope import EventEnvelope
from shared.events.registry import EventContract, topic_for
from shared.observability.context import causation_id_var, current_correlation_id

OUTBOX_WRITTEN = "outbox_written"  # session.info flag: the commit wakes the relay (shared/runtime.py)
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


def add_event(
    session: AsyncSession,
    event: EventContract,
    *,
    aggregate_id: str,
    customer_id: str | None = None,
    occurred_at: datetime | None = None,
) -> EventEnvelope:
    envelope = _envelope(event, aggregate_id=aggregate_id, customer_id=customer_id, occurred_at=occurred_at)
    session.add(OutboxMessage(**_row(envelope)))
    return envelope


async def write_event(
    session: AsyncSession,
    event: EventContract,
    *,
    aggregate_id: str,
    customer_id: str | None = None,
    occurred_at: datetime | None = None,
) -> EventEnvelope:
    """:func:`add_event` as a Core INSERT (for write paths that use no ORM objects): sent now, or
    with the transaction's other rows when it defers them (shared/db/batch.py)."""
    envelope = _envelope(event, aggregate_id=aggregate_id, customer_id=customer_id, occurred_at=occurred_at)
    await insert_rows(session, _OUTBOX, [{**_row(envelope), "created_at": utcnow(), "attempts": 0}])
    session.info[OUTBOX_WRITTEN] = True
    return envelope


def _row(envelope: EventEnvelope) -> dict[str, str]:
    return {"event_id": str(envelope.event_id), "event_type": envelope.type, "topic": topic_for(envelope.type),
            "key": envelope.key, "envelope": envelope.model_dump_json()}


def _envelope(event: EventContract, *, aggregate_id: str, customer_id: str | None,
              occurred_at: datetime | None) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        type=event.event_type,
        version=event.event_version,
        occurred_at=occurred_at or utcnow(),
        producer=event.event_type.split(".", 1)[0],
        aggregate_id=aggregate_id,
        customer_id=customer_id,
        correlation_id=current_correlation_id(),
        causation_id=causation_id_var.get(),
        payload=event.model_dump(mode="json"),
    )
