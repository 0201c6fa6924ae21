"""A registry of event handlers keyed by (event type, version), one per consuming service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import EventEnvelope
from shared.events.registry import topic_for

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, int], Handler] = {}

    def on(self, event_type: str, version: int = 1) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if (event_type, version) in self._handlers:
                raise ValueError(f"a handler for {event_type} v{version} is already registered")
            self._handlers[(event_type, version)] = handler
            return handler

        return register

    def get(self, event_type: str, version: int) -> Handler | None:
        return self._handlers.get((event_type, version))

    def handles_type(self, event_type: str) -> bool:
        return any(known == event_type for known, _ in self._handlers)

    @property
    def topics(self) -> list[str]:
        return sorted({topic_for(event_type) for event_type, _ in self._handlers})

    def __bool__(self) -> bool:
        return bool(self._handlers)
