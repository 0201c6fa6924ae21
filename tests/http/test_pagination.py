"""Cursors: what this API issued comes back; anything forged is a 422, never a database error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.http.errors import Unprocessable
from shared.http.pagination import cursor_value, encode_cursor, time_id_cursor


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
