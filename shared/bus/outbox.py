"""Adding an event to the outbox, inside the caller's transaction.

Use cases call ``add_event`` with the same session that changes state; the caller commits both
together, so an event exists if and only if its state change does. The relay publishes later.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.tables import OutboxMessage
from shared.db.types import utcnow
from shared.events.envelope import EventEnvelope
from shared.events.registry import EventContract, topic_for
from shared.observability.context import causation_id_var, current_correlation_id


def add_event(
    session: AsyncSession,
    event: EventContract,
    *,
    aggregate_id: str,
    customer_id: str | None = None,
    occurred_at: datetime | None = None,
) -> EventEnvelope:
    envelope = EventEnvelope(
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
    session.add(
        OutboxMessage(
            event_id=str(envelope.event_id),
            event_type=envelope.type,
            topic=topic_for(envelope.type),
            key=envelope.key,
            envelope=envelope.model_dump_json(),
        )
    )
    return envelope
