"""Periods are calendar months (``YYYY-MM``) in the company's time zone.

An instant belongs to the month it falls in on the company's wall clock: with Asia/Jakarta (UTC+7),
2026-02-28T17:30Z is 1 March 00:30 and so counts in 2026-03.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)


class PeriodError(ValueError):
    """Not a period (``YYYY-MM``, a month between 0001-01 and 9999-12)."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        if not isinstance(text, str) or not _PERIOD.fullmatch(text):
            raise PeriodError(f"a period is a month written YYYY-MM, not {text!r}")
        year, month = int(text[:4]), int(text[5:])
        if year < 1:
            raise PeriodError("the year must be 0001 or later")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        return Period(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        if self.month == 12:
            return date(self.year, 12, 31)
        return date(self.year, self.month + 1, 1) - timedelta(days=1)

    def starts_at(self, zone: ZoneInfo) -> datetime:
        """The instant (UTC) the month begins on the company's wall clock."""
        return day_starts_at(self.first_day, zone)

    def ends_at(self, zone: ZoneInfo) -> datetime:
        """The instant (UTC) the next month begins: the period is [starts_at, ends_at)."""
        if self.year == 9999 and self.month == 12:
            return datetime.max.replace(tzinfo=UTC)
        return self.next().starts_at(zone)


def day_starts_at(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def period_of(instant: datetime, zone: ZoneInfo) -> Period:
    if instant.tzinfo is None:
        raise ValueError("an instant needs a time zone")
    local = instant.astimezone(zone)
    return Period(local.year, local.month)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def tomorrow(now: datetime, zone: ZoneInfo) -> date:
    return local_date(now, zone) + timedelta(days=1)
