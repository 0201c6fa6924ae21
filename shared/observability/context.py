"""Correlation and causation ids carried through a request or an event handler.

A contextvar (not a global) so concurrent requests and handlers each see their own ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)
actor_var: ContextVar[str | None] = ContextVar("actor", default=None)
# Per request, set by the request middleware: a mutable holder, so a handler deep inside (even in a
# copied context) can say "this request already has its log line" and the access line is skipped.
request_log_var: ContextVar[dict[str, bool] | None] = ContextVar("request_log", default=None)


def mark_request_logged() -> None:
    """The current request got its one log line (an error or outage line): no access line after it."""
    holder = request_log_var.get()
    if holder is not None:
        holder["logged"] = True


def current_correlation_id() -> str:
    """The correlation id in force, or a new one when nothing set it."""
    value = correlation_id_var.get()
    if value is None:
        value = str(uuid.uuid4())
        correlation_id_var.set(value)
    return value


@contextmanager
def event_context(*, correlation_id: str | None, causation_id: str | None) -> Iterator[None]:
    """Within a consumed event: events it causes carry its correlation id and name it as cause."""
    c_token = correlation_id_var.set(correlation_id or str(uuid.uuid4()))
    k_token = causation_id_var.set(causation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(c_token)
        causation_id_var.reset(k_token)
