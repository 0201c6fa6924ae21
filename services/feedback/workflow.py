"""The case workflow as a pure rule: which command each status takes, and where it leads.

new -> assigned -> in_progress <-> waiting_on_customer -> resolved -> closed; reopen from resolved
or closed. Notes may be added in any status; replies and customer messages only while the case
is open (a resolved case is reopened first, so a reopening is always an explicit, counted act).
"""

from __future__ import annotations

from typing import Literal

Status = Literal["new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed"]
Command = Literal["assign", "start", "reply", "note", "customer_message", "wait", "resume", "resolve", "reopen",
                  "close", "rate"]
OPEN: frozenset[str] = frozenset({"new", "assigned", "in_progress", "waiting_on_customer"})

_ALLOWED: dict[str, tuple[str, ...]] = {
    "new": ("assign", "reply", "note", "customer_message"),
    "assigned": ("assign", "start", "reply", "note", "customer_message", "resolve"),
    "in_progress": ("assign", "reply", "note", "customer_message", "wait", "resolve"),
    "waiting_on_customer": ("assign", "reply", "note", "customer_message", "resume", "resolve"),
    "resolved": ("note", "reopen", "close", "rate"),
    "closed": ("note", "reopen", "rate"),
}


def allowed_commands(status: str, *, rated: bool = False) -> list[str]:
    """What the case takes now; ``rate`` only while its latest resolution has no rating."""
    return [c for c in _ALLOWED[status] if not (c == "rate" and rated)]


def allows(status: str, command: str, *, rated: bool = False) -> bool:
    return command in allowed_commands(status, rated=rated)


def status_after(status: str, command: str) -> str:
    """The status a command leads to (commands that do not move the case keep its status)."""
    if command == "assign":
        return "assigned" if status == "new" else status
    if command in ("start", "resume"):
        return "in_progress"
    if command == "reply":
        return "in_progress" if status in ("new", "assigned") else status
    if command == "customer_message":
        return "in_progress" if status == "waiting_on_customer" else status
    if command == "wait":
        return "waiting_on_customer"
    if command == "resolve":
        return "resolved"
    if command == "reopen":
        return "in_progress"
    if command == "close":
        return "closed"
    return status
