"""HTTP idempotency by ``Idempotency-Key``: a retried request returns the first answer.

Two ways, the same guarantees (exactly one request does the work; the stored answer commits with
the work it describes; the same key with a different body is refused with 422):

- claim first (:func:`begin`, then :func:`complete`): the key row is inserted first, in the
  request's transaction, with "do nothing on conflict"; a concurrent request with the same key
  waits on that row (PostgreSQL) or on the write lock (SQLite) and then finds it;
- claim last, the hot path (:func:`record`, :func:`earlier_answer`; see docs/architecture.md):
  no lookup before the work; the answer is inserted at the end, and a taken key makes the
  request roll back and answer with the stored one, as does any failure of a request with a key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from shared.db.base import SharedTable
from shared.db.batch import NewRow, deferring, send_deferred
from shared.db.engine import Database
from shared.db.types import UTCDateTime, utcnow
from shared.http.errors import Unprocessable


class IdempotencyRecord(SharedTable, table=True):
    __tablename__ = "idempotency_key"

    scope: str = Field(sa_column=sa.Column(sa.String(120), primary_key=True))
    key: str = Field(sa_column=sa.Column(sa.String(200), primary_key=True))
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    status_code: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    response: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime, nullable=False,
                                                                             default=utcnow))


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _bounded(scope: str) -> str:
    # The column is bounded; a scope built from a caller's identity may not be.
    return scope if len(scope) <= 120 else hashlib.sha256(scope.encode()).hexdigest()


async def begin(session: AsyncSession, *, scope: str, key: str, request_fingerprint: str) -> StoredResponse | None:
    """Claim ``key`` within ``scope``; returns the earlier answer when the key was already used."""
    scope = _bounded(scope)
    if not key or len(key) > 200:
        raise Unprocessable("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    claimed = await session.execute(
        insert(IdempotencyRecord)
        .values(scope=scope, key=key, fingerprint=request_fingerprint, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["scope", "key"])
    )
    if claimed.rowcount == 1:
        return None
    record = (await session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )).scalar_one()
    if record.fingerprint != request_fingerprint:
        raise Unprocessable("this Idempotency-Key was already used with a different request body",
                            field="Idempotency-Key")
    return StoredResponse(status_code=record.status_code or 200, body=json.loads(record.response or "null"))


_KEYS = IdempotencyRecord.__table__  # type: ignore[attr-defined]
# The hot path's two statements, built once (Core on the table, so neither the ORM nor a
# per-call ``.values()`` is paid for, and their compiled forms are cached).
_LOOKUP = (select(_KEYS.c.fingerprint, _KEYS.c.status_code, _KEYS.c.response)
           .where(_KEYS.c.scope == sa.bindparam("scope"), _KEYS.c.key == sa.bindparam("key")))
_RECORD = {dialect: insert(_KEYS).on_conflict_do_nothing(index_elements=["scope", "key"])
           for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}


class KeyTaken(Exception):
    """Another request with this key committed first (see :func:`record`): roll back, then :func:`lookup`."""


def check_key(key: str) -> None:
    """A 422 for a key that cannot be stored, before any work is done for it."""
    if not key or len(key) > 200:
        raise Unprocessable("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")


async def lookup(session: AsyncSession, *, scope: str, key: str, request_fingerprint: str) -> StoredResponse | None:
    """The answer stored for ``key`` within ``scope``, if any (the hot path's one read; see :func:`record`)."""
    check_key(key)
    record = (await session.execute(_LOOKUP, {"scope": _bounded(scope), "key": key})).first()
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise Unprocessable("this Idempotency-Key was already used with a different request body",
                            field="Idempotency-Key")
    return StoredResponse(status_code=record.status_code or 200, body=json.loads(record.response or "null"))


async def earlier_answer(db: Database, *, scope: str, key: str, request_fingerprint: str,
                         failure: BaseException) -> StoredResponse:
    """The answer stored for ``key``, for a request that did not look first and then failed:
    ``failure`` again when there is none (or the lookup fails too: the database is away, say).

    A hot path may skip the lookup before the work (one round trip less on every request) and
    rely on :func:`record` refusing a taken key at the end (:class:`KeyTaken`): a retry then
    redoes the work in a transaction that is rolled back. But a retry must get the first answer
    even when the work would fail now (the employee has left, the owner service is down), so
    every failure of such a request asks for the earlier answer before it is reported.
    """
    try:
        async with db.transaction() as session:
            stored = await lookup(session, scope=scope, key=key, request_fingerprint=request_fingerprint)
    except Unprocessable:
        raise  # the key was used with another body: that is the answer
    except Exception:
        raise failure from None
    if stored is None:
        raise failure
    return stored


async def record(session: AsyncSession, *, scope: str, key: str, request_fingerprint: str, status_code: int,
                 body: Any) -> None:
    """Store the final answer with the work, in one INSERT (no claim row updated later). ``body``
    is the answer's JSON, as a ``str`` when the caller has it serialised already.

    A concurrent request with the same key that got here first makes this INSERT wait for its
    commit (PostgreSQL; SQLite has one writer) and then do nothing: :class:`KeyTaken` is raised,
    the caller rolls its work back and answers with :func:`lookup` in a new transaction. So the
    work is still done exactly once, and a retry after commit is answered by :func:`lookup`.
    """
    row = {"scope": _bounded(scope), "key": key, "fingerprint": request_fingerprint, "status_code": status_code,
           "response": body if isinstance(body, str) else json.dumps(body, default=str), "created_at": utcnow()}
    if deferring(session):
        # The transaction's deferred rows (the work) go in the same round trip, this one last.
        if not await send_deferred(session, only_if_new=NewRow(_KEYS, row, key=("scope", "key"))):
            raise KeyTaken(key)
        return
    stored = await session.execute(_RECORD[session.bind.dialect.name], row)
    if stored.rowcount != 1:
        raise KeyTaken(key)


async def complete(session: AsyncSession, *, scope: str, key: str, status_code: int, body: Any) -> None:
    scope = _bounded(scope)
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(status_code=status_code, response=json.dumps(body, default=str))
    )
