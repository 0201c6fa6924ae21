"""SLA targets per kind x priority, as a pure rule: the default policy and how a case's targets are found.

A policy is a list of entries ``(kind or None for any kind, priority, first response, resolution)``;
each target is a number of seconds in working time (the calendar's windows) or in calendar time,
or None for no target. A case takes the entry for its kind and priority, else the entry for any
kind with its priority. A policy must cover every kind x priority.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.feedback.priority import DEFAULT_RAISED_SEGMENTS, PRIORITIES

KINDS = ("complaint", "claim", "objection", "suggestion", "comment")
HOUR = 3600


@dataclass(frozen=True)
class Target:
    seconds: int
    working_time: bool = True


@dataclass(frozen=True)
class PolicyEntry:
    kind: str | None
    priority: str
    first_response: Target | None
    resolution: Target | None


@dataclass(frozen=True)
class Policy:
    version: int
    entries: tuple[PolicyEntry, ...]
    raise_priority_segments: tuple[str, ...]

    def targets(self, kind: str, priority: str) -> PolicyEntry:
        fallback = None
        for entry in self.entries:
            if entry.priority == priority and entry.kind == kind:
                return entry
            if entry.priority == priority and entry.kind is None:
                fallback = entry
        if fallback is None:
            raise LookupError(f"the policy has no target for a {priority} {kind}")
        return fallback


def uncovered(entries: Sequence[PolicyEntry]) -> list[str]:
    """The kind x priority pairs a policy leaves without an entry."""
    specific = {(e.kind, e.priority) for e in entries}
    return [f"{kind}/{priority}" for kind in KINDS for priority in PRIORITIES
            if (kind, priority) not in specific and (None, priority) not in specific]


def duplicates(entries: Sequence[PolicyEntry]) -> list[str]:
    seen: set[tuple[str | None, str]] = set()
    twice = []
    for entry in entries:
        key = (entry.kind, entry.priority)
        if key in seen:
            twice.append(f"{entry.kind or '*'}/{entry.priority}")
        seen.add(key)
    return twice


# Working hours of a 09:00-12:00 + 13:00-17:00 day (7 h): urgent answered within the hour and
# settled the same day; low within a day and settled within two weeks.
DEFAULT_POLICY = Policy(
    version=0,
    entries=(
        PolicyEntry(None, "urgent", Target(1 * HOUR), Target(8 * HOUR)),
        PolicyEntry(None, "high", Target(2 * HOUR), Target(16 * HOUR)),
        PolicyEntry(None, "normal", Target(4 * HOUR), Target(40 * HOUR)),
        PolicyEntry(None, "low", Target(8 * HOUR), Target(80 * HOUR)),
    ),
    raise_priority_segments=DEFAULT_RAISED_SEGMENTS,
)
