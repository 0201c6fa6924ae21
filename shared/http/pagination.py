"""Cursor (keyset) pagination: stable under inserts, no OFFSET scans, capped page size."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel

from shared.http.errors import Unprocessable
from shared.http.inputs import holds_nul

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def _foreign_cursor() -> Unprocessable:
    return Unprocessable("the cursor is not one this API issued", field="cursor")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The cursor's values; a forged one that a database could choke on is a 422 here."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _foreign_cursor() from exc
    if not isinstance(values, dict) or holds_nul(values):
        raise _foreign_cursor()
    return values


INT64 = range(-(2**63), 2**63)


def cursor_value(cursor: str, name: str, kind: type[str] | type[int] = str) -> Any:
    """One typed value of a cursor (a keyset of one column)."""
    value = decode_cursor(cursor).get(name)
    if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value not in INT64):
        raise _foreign_cursor()
    return value


def time_id_cursor(cursor: str, time_field: str) -> tuple[datetime, str]:
    """The (aware instant, id) of a keyset cursor over a time column and the id."""
    values = decode_cursor(cursor)
    try:
        at, row_id = datetime.fromisoformat(values[time_field]), values["id"]
        if at.tzinfo is None or not isinstance(row_id, str):
            raise _foreign_cursor()
        # An instant near year 1 or 9999 may have no UTC equivalent: refuse it here, not in the driver.
        return at.astimezone(UTC), row_id
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise _foreign_cursor() from exc


def time_id_page(rows: Sequence[Any], limit: int, time_field: str) -> tuple[list[Any], str | None]:
    """Rows fetched with ``limit + 1``: the page and the cursor after its last row (None at the end)."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    last = page[-1]
    return page, encode_cursor({time_field: getattr(last, time_field).isoformat(), "id": last.id})


def newest_first_after_cursor(query: sa.Select[Any], time_column: Any, id_column: Any, *,
                              after_cursor: bool) -> sa.Select[Any]:
    """``query`` as a page, newest first on (time, id), of at most the bound ``limit`` rows; with
    ``after_cursor``, only the rows strictly before the cursor's bound (``after_at``, ``after_id``).

    The keyset that :func:`time_id_cursor` decodes and :func:`time_id_page` issues: bind ``limit``
    to the page size + 1 and, after a cursor, ``after_at`` and ``after_id`` to its (instant, id).
    Bound parameters rather than values, so that a read path builds its statement once (at import,
    or once per combination of filters) and not per request: building a select costs more CPU than
    running it. The id breaks ties of the time column, so no row is skipped or repeated between
    pages (the index on (time, id) serves both the filter and the order).
    """
    if after_cursor:
        after_at, after_id = sa.bindparam("after_at"), sa.bindparam("after_id")
        query = query.where(sa.or_(time_column < after_at, sa.and_(time_column == after_at, id_column < after_id)))
    return query.order_by(time_column.desc(), id_column.desc()).limit(sa.bindparam("limit", type_=sa.Integer))


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(  # async: FastAPI would run a plain def in a worker thread
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)
