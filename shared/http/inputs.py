"""The base of every request model, and the strict field types request models use.

``Input`` refuses unknown fields, the NUL character (PostgreSQL text cannot hold U+0000, so the
client gets a 422 naming the field instead of a database error) and JSON nested deeper than
:data:`MAX_JSON_DEPTH` (checked without recursion: a recursive walk of user JSON ends in a
``RecursionError`` and a 500). Path and query values are checked for NUL by the request middleware.

pydantic's lax mode takes ``"yes"``/``"on"``/``"1"``/``0`` as booleans, numbers as Unix-time
instants and ``"1e3"`` as a decimal. FastAPI validates in pydantic's Python mode, where
``ConfigDict(strict=True)`` would also refuse the ISO strings instants arrive as, so strictness
lives in the field types below. Every request model uses them instead of bare ``bool``,
``datetime`` and ``Decimal`` (a test checks every service's schemas and query parameters):

- :data:`StrictBool` in bodies (JSON ``true``/``false`` only), :data:`QueryBool` in query strings
  (``true``/``false`` only);
- :data:`Instant` for instants, in bodies and query strings: an ISO-8601 string with an offset,
  returned in UTC (``shared.http.history.happened_at`` for when something already happened);
- :data:`Day` for calendar dates: ``YYYY-MM-DD`` only;
- :data:`MoneyInput` / :data:`SignedMoneyInput` for amounts, and :func:`decimal_input` for other
  exact decimals: a plain decimal string such as ``"1250.50"``, never a JSON number.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema, model_validator
from pydantic import StrictBool as StrictBool  # re-exported: the body boolean

# Deeper than any request model of this project needs (an order's line is at depth 3).
MAX_JSON_DEPTH = 32


def holds_nul(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (keys included) holds U+0000. Iterative: any depth is safe."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether containers in ``value`` nest more than ``limit`` levels deep (a scalar has depth 0)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list | tuple):
            if depth + 1 > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def _unstorable(value: Any, limit: int = MAX_JSON_DEPTH) -> str | None:
    """What makes ``value`` unfit to store (too deep, or holding NUL), in one iterative walk; None if nothing."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "text may not contain the NUL character (U+0000)"
        elif isinstance(item, dict | list | tuple):
            if depth + 1 > limit:
                return f"the JSON nests deeper than {limit} levels"
            if isinstance(item, dict):
                pending.extend((key, depth + 1) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
    return None


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _bounded_and_storable(cls, data: Any) -> Any:
        if problem := _unstorable(data):
            raise ValueError(problem)
        return data


# ----- booleans ---------------------------------------------------------------------------------

def _query_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    raise ValueError("must be true or false")


QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
"""A boolean in a query string: ``true`` or ``false``, nothing else (not ``1``, ``yes`` or ``on``)."""


# ----- instants ---------------------------------------------------------------------------------

# ISO-8601 date and time to at least the minute, then the offset (Z or ±hh:mm) checked below.
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})?")


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):  # built in Python (a JSON body or a query string holds text)
        parsed = value
    elif isinstance(value, str) and _INSTANT.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not a valid date and time: {exc}") from exc
    else:
        raise ValueError("must be an ISO-8601 date and time with an offset, e.g. 2026-01-31T09:00:00+07:00")
    if parsed.tzinfo is None:
        raise ValueError("a time zone is required (ISO-8601 with an offset, e.g. 2026-01-31T09:00:00Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+05:00 has no UTC equivalent
        raise ValueError("the instant is out of range") from exc


Instant = Annotated[datetime, BeforeValidator(_instant)]
"""An instant: an ISO-8601 string with an offset (never a Unix time), returned as an aware UTC datetime."""


# ----- dates ------------------------------------------------------------------------------------

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):  # built in Python
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD, e.g. 2026-01-31")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"no such date: {value}") from exc


Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
"""A calendar date (a holiday, a hire date): ``YYYY-MM-DD``, never a number or a date and time."""


# ----- exact decimals -----------------------------------------------------------------------------

def decimal_input(*, decimals: int = 2, integer_digits: int = 18, signed: bool = False,
                  example: str | None = None) -> Any:
    """A decimal given as a plain string: digits, an optional point and at most ``decimals`` digits after it.

    ``signed`` allows a leading ``-`` (never ``+``). JSON numbers, exponents, ``NaN``, ``Infinity``
    and whitespace are refused, so what the client wrote is exactly the value stored.
    """
    # [0-9], not \d: \d (and Decimal()) also take other scripts' digits, such as "١٢٣".
    fraction = rf"(\.[0-9]{{1,{decimals}}})?" if decimals > 0 else ""
    pattern = rf"^{'-?' if signed else ''}[0-9]{{1,{integer_digits}}}{fraction}$"
    compiled = re.compile(pattern)
    shape = (f"a decimal string with at most {integer_digits} digits before the point and {decimals} after it"
             if decimals else f"a string of at most {integer_digits} digits")
    if example is None:
        fraction_example = "." + "50".ljust(decimals, "0")[:decimals] if decimals else ""
        example = ("-" if signed else "") + "1250" + fraction_example

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal) and value.is_finite():  # built in Python, not from JSON
            value = format(value, "f")
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(f'must be {shape}, e.g. "{example}"')
        return Decimal(value)

    return Annotated[Decimal, BeforeValidator(parse),
                     WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example]})]


MoneyInput = decimal_input()
"""A non-negative amount: ``"1250.50"``; at most two decimals (a service may allow fewer per currency)."""
SignedMoneyInput = decimal_input(signed=True)
"""An amount that may be negative (an adjustment, a correction): ``"-1250.50"``."""


__all__ = ["MAX_JSON_DEPTH", "Day", "Input", "Instant", "MoneyInput", "QueryBool", "SignedMoneyInput",
           "StrictBool", "decimal_input", "holds_nul", "json_depth_exceeds"]
