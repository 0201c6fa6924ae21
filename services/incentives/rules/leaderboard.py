"""The leaderboard and who wins "Best employee of the month by sales results".

Each measure has a stated direction (Odoo's podium ignored "lower is better" goals):

1. weighted points: higher is better;
2. complaints attributed to the employee: **lower** is better;
3. average CSAT: higher is better; an employee without ratings comes after every rated one
   (no evidence is not better evidence);
4. hire date: the **earlier** hire wins; an unknown hire date (an id the directory does not know)
   comes last;
5. finally the employee id, ascending, so the order is total and the same on every run.

SLA breaches are shown beside the ranking and lower the bonus through the quality multiplier,
but do not order the board (the stated tie rule has no place for them).

The winner is the first employee in this order who is eligible: known to the directory, still
employed, with a personal target, positive points and at least the minimum fulfilment. Someone
ranked above them who is not eligible keeps their place on the board but cannot win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.incentives.rules.money import ZERO

BEST_EMPLOYEE_TITLE = "Best employee of the month by sales results"
BEST_EMPLOYEE_TITLE_MS = "Pekerja terbaik bulan ini berdasarkan hasil penjualan"
MEASURES = ("weighted_points", "complaints", "csat", "hired_on", "employee_id")


@dataclass(frozen=True)
class Standing:
    employee_id: str
    points: Decimal
    complaints: int
    csat: Decimal | None
    hired_on: date | None
    eligible: bool


@dataclass(frozen=True)
class Ranked:
    rank: int
    standing: Standing
    decided_by: str | None  # the measure that put this entry below the one above it (None for the first)


def _key(s: Standing) -> tuple[object, ...]:
    return (-s.points, s.complaints, (0, -s.csat) if s.csat is not None else (1, ZERO),
            (0, s.hired_on) if s.hired_on is not None else (1, date.max), s.employee_id)


def _decided_by(above: Standing, below: Standing) -> str:
    for name, a, b in zip(MEASURES, _key(above), _key(below), strict=True):
        if a != b:
            return name
    return "employee_id"


def rank(standings: Iterable[Standing]) -> list[Ranked]:
    ordered = sorted(standings, key=_key)
    return [Ranked(rank=i + 1, standing=s, decided_by=None if i == 0 else _decided_by(ordered[i - 1], s))
            for i, s in enumerate(ordered)]


def winner(ranked: Iterable[Ranked]) -> Ranked | None:
    for entry in ranked:
        if entry.standing.eligible and entry.standing.points > ZERO:
            return entry
    return None
