"""The rounding rule, stated once.

- Money (net sales, bonuses, caps, gift values) is a Decimal with two decimals, the minor unit of the
  company's currency; weighted points have the same two decimals.
- A line's points are ``round(net x weight)`` half-up to 0.01, per line; every total is the sum of
  its rounded lines, so totals always add up to the lines they list.
- Percentages (fulfilment, share of plan) are computed from the exact totals and shown rounded
  half-up to 0.01; comparisons with thresholds (minimum fulfilment, accelerator tiers) use the
  exact ratio, never the rounded one.
- The CSAT average is rounded half-up to 0.01 before it enters the quality multiplier.
- A bonus is computed exactly and rounded half-up to 0.01 once, at the end, then capped.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")
CENT = Decimal("0.01")


def round_cents(value: Decimal) -> Decimal:
    """``value`` rounded half-up to two decimals (money, points, percentages)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percent(part: Decimal, whole: Decimal | None) -> Decimal | None:
    """``part`` as an exact percentage of ``whole``; None when there is no positive whole to compare with."""
    if whole is None or whole <= 0:
        return None
    return part * HUNDRED / whole
