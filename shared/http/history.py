"""History recorded after the fact (an import, a phone call noted later): when did it happen?

Every command that takes such an instant (orders' placed/paid/fulfilled/cancelled/returned, a
customer's registration, an interaction, feedback's case steps) asks :func:`happened_at`, so the
rule is the same everywhere; ordering against the aggregate's earlier steps stays with its use case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.http.errors import Unprocessable

# Clocks of a client and of the API replicas differ by a little: "now" from a client may be a few
# minutes ahead of this replica's clock.
CLOCK_SKEW = timedelta(minutes=5)


def happened_at(given: datetime | None, *, now: datetime, field: str) -> datetime:
    """``given``, or ``now`` without one. Further ahead than :data:`CLOCK_SKEW` it is a 422 naming
    ``field``; within the skew it counts as now (a client clock a little ahead is not the future)."""
    if given is None:
        return now
    if given > now + CLOCK_SKEW:
        raise Unprocessable(f"{field} is in the future ({given.isoformat()}); it may be at most now", field=field)
    return min(given, now)
