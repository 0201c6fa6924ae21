"""The one envelope every event travels in, whoever publishes it."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.events.types import UtcDatetime


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: UUID
    type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+\.[a-z_]+$", description="<service>.<aggregate>.<verb>")
    version: int = Field(ge=1)
    occurred_at: UtcDatetime
    producer: str
    aggregate_id: str
    customer_id: str | None = None
    correlation_id: str
    causation_id: str | None = None
    payload: dict[str, Any]

    @property
    def key(self) -> str:
        """Kafka key: the customer where the event concerns one (their events stay in order)."""
        return self.customer_id or self.aggregate_id

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventEnvelope:
        return cls.model_validate(json.loads(raw))
