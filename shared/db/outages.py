"""Which errors mean "the database is unavailable right now": the one classification of outages.

An outage is not the caller's fault and a later try can succeed, so the HTTP layer answers it
with 503 and ``Retry-After``, and the consumer retries it without counting it towards the
dead-letter limit. Both ask :func:`is_database_outage`, so they can never disagree.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    OperationalError,  # includes SQLite's "database is locked"
    InterfaceError,  # e.g. "connection is closed" after the server dropped it
    PoolTimeout,  # every pooled connection busy
    TimeoutError,  # e.g. connecting to a host that does not answer
    OSError,  # refused, reset, unreachable
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)

# SQLSTATE classes and codes a later try can get past: connection exception (08), insufficient
# resources (53), operator intervention such as a shutdown or a terminated backend (57P), and
# transaction rollback: serialization failure or deadlock (40).
OUTAGE_SQLSTATES = ("08", "53", "57P", "40")

# How far to follow explicit ``raise ... from`` causes (a driver error wrapped by a library).
_MAX_CAUSES = 5


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", "") or "")


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, OUTAGE_TYPES) or _sqlstate(exc).startswith(OUTAGE_SQLSTATES):
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        return exc.connection_invalidated or (orig is not None and (
            isinstance(orig, OUTAGE_TYPES) or _sqlstate(orig).startswith(OUTAGE_SQLSTATES)))
    return False


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was explicitly raised from) means the database is unreachable or overloaded."""
    current: BaseException | None = exc
    for _ in range(_MAX_CAUSES):
        if current is None:
            return False
        if _is_outage_itself(current):
            return True
        current = current.__cause__
    return False
