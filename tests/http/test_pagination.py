"""Cursors: what this API issued comes back; anything forged is a 422, never a database error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared.db.types import UTCDateTime
from shared.http.errors import Unprocessable
from shared.http.pagination import (
    cursor_value,
    encode_cursor,
    newest_first_after_cursor,
    time_id_cursor,
    time_id_page,
)


def test_an_issued_cursor_round_trips() -> None:
    at = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    assert time_id_cursor(encode_cursor({"placed_at": at.isoformat(), "id": "o-1"}), "placed_at") == (at, "o-1")
    assert cursor_value(encode_cursor({"id": 42}), "id", int) == 42


@pytest.mark.parametrize("values", [
    {"placed_at": "0001-01-01T00:00:00+01:00", "id": "x"},   # no UTC equivalent
    {"placed_at": "9999-12-31T23:59:59-01:00", "id": "x"},
    {"placed_at": "2026-01-01T00:00:00", "id": "x"},          # naive
    {"placed_at": "2026-01-01T00:00:00Z", "id": 7},           # id of the wrong type
    {"placed_at": "yesterday", "id": "x"},
    {"id": "x"},
    {"placed_at": "2026-01-01T00:00:00Z", "id": "a\x00b"},     # NUL: PostgreSQL text cannot hold it
])
def test_forged_time_cursors_are_refused(values: dict) -> None:
    with pytest.raises(Unprocessable):
        time_id_cursor(encode_cursor(values), "placed_at")


@pytest.mark.parametrize("raw", [encode_cursor({"id": 2**63}), encode_cursor({"id": True}),
                                 encode_cursor({"id": "7"}), "%%%", encode_cursor([1])])  # type: ignore[arg-type]
def test_forged_integer_cursors_are_refused(raw: str) -> None:
    with pytest.raises(Unprocessable):
        cursor_value(raw, "id", int)


# ----- the keyset clause of the read paths built once (customers by created_at, orders by placed_at) -----

_rows = sa.Table("row", sa.MetaData(), sa.Column("id", sa.String, primary_key=True),
                 sa.Column("at", UTCDateTime, nullable=False))


def test_the_newest_first_keyset_is_bound_parameters_only() -> None:
    """Built once and run with any cursor: no value of a request may be baked into the statement."""
    first = newest_first_after_cursor(sa.select(_rows), _rows.c.at, _rows.c.id, after_cursor=False)
    after = newest_first_after_cursor(sa.select(_rows), _rows.c.at, _rows.c.id, after_cursor=True)
    assert set(first.compile().params) == {"limit"}
    assert set(after.compile().params) == {"limit", "after_at", "after_id"}
    assert "ORDER BY row.at DESC, row.id DESC" in str(after)


def test_pages_after_the_cursor_hold_every_row_once_newest_first() -> None:
    """Rows that share an instant are split across pages by id: none is skipped or repeated."""
    engine = sa.create_engine("sqlite://")
    _rows.metadata.create_all(engine)
    base = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    rows = [{"id": f"r-{n:02}", "at": base + timedelta(minutes=n // 3)} for n in range(10)]  # three per instant
    statements = {after: newest_first_after_cursor(sa.select(_rows), _rows.c.at, _rows.c.id, after_cursor=after)
                  for after in (False, True)}
    seen: list[str] = []
    with engine.begin() as conn:
        conn.execute(_rows.insert(), rows)
        cursor: str | None = None
        while True:
            values: dict = {"limit": 2 + 1}
            if cursor:
                values["after_at"], values["after_id"] = time_id_cursor(cursor, "at")
            page, cursor = time_id_page(conn.execute(statements[cursor is not None], values).all(), 2, "at")
            seen += [row.id for row in page]
            if cursor is None:
                break
    expected = sorted(rows, key=lambda row: (row["at"], row["id"]), reverse=True)
    assert seen == [row["id"] for row in expected]
