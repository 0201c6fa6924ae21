"""Amounts between events/API (decimal strings) and the aggregates (integer minor units)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_minor(amount: Decimal | str | int) -> int:
    """Minor units of an amount, rounded half up (events carry amounts already rounded to cents)."""
    return int((Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def from_minor(minor: int | None) -> Decimal | None:
    if minor is None:
        return None
    return (Decimal(minor) / 100).quantize(CENT)


def prorate(minor: int, part: int, whole: int) -> int:
    """round_half_up(minor x part / whole): orders' cumulative pro-rating of a line's returns."""
    if whole == 0:
        return 0
    return int((Decimal(minor) * part / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))
