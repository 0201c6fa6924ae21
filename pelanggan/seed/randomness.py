"""Deterministic randomness, calendar and money helpers shared by the plan's phases."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal


def rng(seed: int, phase: str) -> random.Random:
    # One generator per phase: changing how one phase draws leaves every other phase's data as it was.
    # A str seed is hashed with SHA-512 by `random`, never with the per-process salted hash().
    return random.Random(f"pelanggan-seed:{seed}:{phase}")


def poisson(r: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means (< 20) of monthly orders per customer."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def month_start(start: date, index: int) -> date:
    year, month = divmod(start.month - 1 + index, 12)
    return date(start.year + year, month + 1, 1)


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def working_instant(r: random.Random, day: date) -> datetime:
    # 02:00-09:59 UTC is 09:00-16:59 in Jakarta (UTC+7) and 10:00-17:59 in Kuala Lumpur: office hours,
    # and the same calendar day in both zones, so a period (month) is the same wherever it is counted.
    return datetime(day.year, day.month, day.day, r.randint(2, 9), r.randint(0, 59), r.randint(0, 59), tzinfo=UTC)


def random_day(r: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=r.randint(0, max(0, (last - first).days)))


def rupiah(amount: float | Decimal, step: int = 100) -> Decimal:
    """A price or amount in IDR rounded to ``step`` rupiah, with the two decimals the APIs take."""
    steps = (Decimal(str(amount)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (steps * step).quantize(Decimal("0.01"))


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
