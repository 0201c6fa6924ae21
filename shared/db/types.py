"""Column types that keep money exact and time aware on both SQLite and PostgreSQL.

SQLite has no decimal type (``Numeric`` comes back as a float) and forgets time zones, so the
types below store decimals as canonical strings and datetimes as UTC there, and use NUMERIC
and TIMESTAMPTZ on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal column with a fixed scale: NUMERIC(p, s) on PostgreSQL, a string on SQLite."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 20, scale: int = 2) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(self._quantum)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # PostgreSQL's driver already gives a Decimal: quantized as it is (the same value as
        # through its text, which cost a str() and a parse per amount, many per page of orders).
        # SQLite's text, or a float from a column SQLite stored as a number, goes through text.
        exact = value if type(value) is Decimal else Decimal(str(value))
        return exact.quantize(self._quantum)


class Money(ExactDecimal):
    """An amount of money in a currency with two minor-unit digits."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(precision=20, scale=2)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, always UTC; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(UTC)
        # SQLite stores text: drop the offset so values sort as strings, and re-attach on read.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
