"""Loyalty rules: pure functions of the program, a customer's ledger and the time; no I/O.

- A customer's ledger holds signed amounts, each with the instant it counts at: a paid order
  accrues its net at its payment time; a return or the cancellation of a paid order reverses
  exactly what it takes back, **dated at the payment it reverses**. A reversal therefore lowers
  the spend of the window the purchase counted in, and a purchase that has already left a rolling
  window is not taken out of it a second time.
- Spend in the window at instant ``t``: the sum of the entries dated in ``(t - N months, t]`` for a
  rolling window of N calendar months, or of every entry dated up to ``t`` for a lifetime window.
- A tier is reached when the spend is **at least** its threshold (exactly at the threshold counts).
- Downgrade ``reevaluate``: the tier follows the current spend in the window, down as well as up.
  Downgrade ``never``: the tier is the best one the customer's retained spend ever reached in
  the window — purchases leaving a rolling window do not lower it, but returns and cancellations
  do, because they take back the purchase that earned the tier. With a lifetime window the two
  rules coincide.
"""

from __future__ import annotations

import bisect
import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import accumulate, pairwise
from typing import Literal

from services.orders.pricing import HUNDRED, ZERO, PricingError, is_whole_minor_units

Window = Literal["lifetime", "rolling"]
Downgrade = Literal["never", "reevaluate"]
MAX_TIERS = 20
MAX_WINDOW_MONTHS = 120


class ProgramError(ValueError):
    """A loyalty program that cannot be run (the caller turns it into a 422)."""


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: Decimal
    discount_percent: Decimal


@dataclass(frozen=True)
class Program:
    version: int
    currency: str
    window: Window
    window_months: int | None
    downgrade: Downgrade
    tiers: tuple[Tier, ...]

    @property
    def base(self) -> Tier:
        return self.tiers[0]

    def tier_named(self, name: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


DEFAULT_CURRENCY = "IDR"
DEFAULT_TIERS = (  # in the form a stored program has (two decimals), so answers look alike
    Tier(name="base", threshold=Decimal("0.00"), discount_percent=Decimal("0.00")),
    Tier(name="silver", threshold=Decimal("10000000.00"), discount_percent=Decimal("2.00")),
    Tier(name="gold", threshold=Decimal("50000000.00"), discount_percent=Decimal("3.50")),
    Tier(name="platinum", threshold=Decimal("150000000.00"), discount_percent=Decimal("5.00")),
)


def default_program(currency: str) -> Program:
    """The program in force until an administrator puts one (version 0): the demo company's tiers.

    The demo company is a stationery and printing-supplies distributor selling in IDR: a school or
    a small shop buys a few million rupiah a year, an office or a printing house tens of millions, a
    wholesaler hundreds of millions. Net spend over the customer's lifetime (after returns) earns:

    ======== ================ ========
    tier     from (IDR)       discount
    ======== ================ ========
    base     0                0 %
    silver   10,000,000       2 %
    gold     50,000,000       3.5 %
    platinum 150,000,000      5 %
    ======== ================ ========

    The steps reward loyal shops and offices soon, and keep the largest discount (5 %) within a
    distributor's margin on paper and office supplies. Lifetime window, downgrade never: a tier
    once earned stays while the purchases that earned it stand (returns still take it back).
    Thresholds in rupiah mean nothing in another currency, so a service counting spend in any
    other currency starts with a single base tier without discount instead.
    """
    tiers = DEFAULT_TIERS if currency == DEFAULT_CURRENCY else DEFAULT_TIERS[:1]
    return Program(version=0, currency=currency, window="lifetime", window_months=None, downgrade="never",
                   tiers=tiers)


def validate_program(program: Program) -> None:
    """Raise ProgramError naming the first rule the program breaks."""
    if program.window == "rolling":
        if program.window_months is None or not 1 <= program.window_months <= MAX_WINDOW_MONTHS:
            raise ProgramError(f"a rolling window lasts 1 to {MAX_WINDOW_MONTHS} months")
    elif program.window_months is not None:
        raise ProgramError("window_months is given only with a rolling window")
    tiers = program.tiers
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise ProgramError(f"a program has 1 to {MAX_TIERS} tiers")
    if tiers[0].threshold != ZERO:
        raise ProgramError("the first tier is the base tier, with threshold 0")
    names = [t.name.casefold() for t in tiers]
    if len(set(names)) != len(names):
        raise ProgramError("tier names must be unique")
    for tier in tiers:
        if not ZERO <= tier.discount_percent <= HUNDRED:
            raise ProgramError(f"tier {tier.name}: the discount lies between 0 and 100 percent")
        if tier.discount_percent != tier.discount_percent.quantize(Decimal("0.01")):
            raise ProgramError(f"tier {tier.name}: the discount has at most two decimals")
        try:
            whole = is_whole_minor_units(tier.threshold, program.currency)
        except PricingError as exc:
            raise ProgramError(str(exc)) from exc
        if not whole:
            raise ProgramError(f"tier {tier.name}: the threshold is a whole amount of {program.currency}")
    for lower, higher in pairwise(tiers):
        if higher.threshold <= lower.threshold:
            raise ProgramError(f"thresholds must ascend strictly: {higher.name} is not above {lower.name}")
        if higher.discount_percent < lower.discount_percent:
            raise ProgramError(f"a higher tier never gives less discount: {higher.name} < {lower.name}")


def months_before(instant: datetime, months: int) -> datetime:
    """The same wall-clock instant ``months`` calendar months earlier (the day clamped to the month's end)."""
    index = instant.year * 12 + instant.month - 1 - months
    year, month = divmod(index, 12)
    day = min(instant.day, calendar.monthrange(year, month + 1)[1])
    return instant.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Entry:
    effective_at: datetime
    amount: Decimal


class _Ledger:
    """Entries sorted by date with prefix sums: any window's spend in O(log n)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        ordered = sorted(entries, key=lambda e: e.effective_at)
        self.dates = [e.effective_at for e in ordered]
        self.prefix = [ZERO, *accumulate(e.amount for e in ordered)]

    def up_to(self, instant: datetime) -> Decimal:
        return self.prefix[bisect.bisect_right(self.dates, instant)]

    def spend_at(self, program: Program, instant: datetime) -> Decimal:
        total = self.up_to(instant)
        if program.window == "rolling":
            assert program.window_months is not None
            total -= self.up_to(months_before(instant, program.window_months))
        return total


def spend_in_window(program: Program, entries: Iterable[Entry], at: datetime) -> Decimal:
    return _Ledger(entries).spend_at(program, at)


def qualified_tier(program: Program, spend: Decimal) -> Tier:
    """The highest tier whose threshold the spend reaches (at least the base tier)."""
    reached = program.base
    for tier in program.tiers:
        if spend >= tier.threshold:
            reached = tier
    return reached


@dataclass(frozen=True)
class Standing:
    spend_in_window: Decimal
    qualifying_spend: Decimal
    tier: Tier
    next_tier: Tier | None

    @property
    def amount_to_next_tier(self) -> Decimal | None:
        if self.next_tier is None:
            return None
        return max(ZERO, self.next_tier.threshold - self.spend_in_window)


def standing(program: Program, entries: Sequence[Entry], at: datetime) -> Standing:
    """Where the customer stands at ``at``: spend in the window, tier in force, the next tier."""
    ledger = _Ledger(e for e in entries if e.effective_at <= at)
    current = ledger.spend_at(program, at)
    qualifying = current
    if program.downgrade == "never":
        # The best window spend at any instant a purchase counted, with reversals already
        # applied to the purchases they reverse.
        for instant in set(ledger.dates):
            qualifying = max(qualifying, ledger.spend_at(program, instant))
    tier = qualified_tier(program, qualifying)
    higher = [t for t in program.tiers if t.threshold > tier.threshold]
    return Standing(spend_in_window=current, qualifying_spend=qualifying, tier=tier,
                    next_tier=higher[0] if higher else None)
