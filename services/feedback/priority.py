"""The priority a case gets when the request names none: from its kind, raised for key segments.

A claim (a formal demand about a transaction: money or goods at stake) starts high; a complaint or
an objection normal; a suggestion or a comment low. A customer of a segment the SLA policy lists in
``raise_priority_segments`` (wholesale and corporate by default: the standing customers the
business lives on) gets one step more, at most high: nothing is urgent by rule, urgent is a
person's call.
"""

from __future__ import annotations

from collections.abc import Collection

PRIORITIES = ("low", "normal", "high", "urgent")
BASE_PRIORITY = {"claim": "high", "complaint": "normal", "objection": "normal", "suggestion": "low",
                 "comment": "low"}
DEFAULT_RAISED_SEGMENTS = ("wholesale", "corporate")


def default_priority(kind: str, segment: str | None, raised_segments: Collection[str]) -> str:
    base = BASE_PRIORITY[kind]
    if segment is not None and segment.strip().lower() in {s.lower() for s in raised_segments}:
        return PRIORITIES[min(PRIORITIES.index(base) + 1, len(PRIORITIES) - 2)]
    return base
