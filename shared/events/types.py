"""Field types for event contracts whose JSON must be exact: decimals as strings, instants in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

# What the published schemas (OpenAPI, AsyncAPI) promise: a plain decimal string, never a number
# and never exponent notation.
DECIMAL_STRING_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

# What lax parsing would misread on input: a number (or numeric text) taken as a Unix time, and
# floats, exponents ("1e3"), NaN or padded text taken as a decimal.
_NUMERIC_TEXT = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_PLAIN_DECIMAL = re.compile(DECIMAL_STRING_PATTERN)


def _not_a_number(value: Any) -> Any:
    if isinstance(value, bool | int | float | Decimal) or (isinstance(value, str) and _NUMERIC_TEXT.fullmatch(value)):
        raise ValueError("an instant is an ISO-8601 string with an offset, not a number")
    return value


def _exact_decimal(value: Any) -> Any:
    if type(value) is Decimal:  # the common case (amounts read from the database), checked first
        return value
    if isinstance(value, bool | float) or (isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value)):
        raise ValueError('a decimal is a plain decimal string, e.g. "1250.50"')
    return value


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time zone is required (ISO-8601 with an offset, e.g. 2026-01-31T09:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+05:00 has no UTC equivalent
        raise ValueError("the instant is out of range") from exc


def _decimal_text(value: Decimal) -> str:
    # format(..., "f") never switches to exponent notation ("1E+2"), which other systems misread.
    return format(value, "f")


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


DecimalString = Annotated[
    Decimal, BeforeValidator(_exact_decimal), AfterValidator(_finite),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_STRING_PATTERN, "examples": ["1250.50"]}),
]
UtcDatetime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_to_utc)]
