"""Period labels in the company's time zone: months ``YYYY-MM`` and ISO weeks ``YYYY-Www``.

Figures are bucketed by the local calendar of the company (a sale at 23:30 on 31 January in
Jakarta counts in January), so a month here is the same month as in incentives' periods.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Granularity = Literal["week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("month", "week")
SEASON_LENGTH = {"month": 12, "week": 52}


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    if instant.tzinfo is None:
        raise ValueError("an aware instant is required")
    return instant.astimezone(zone).date()


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def label(instant: datetime, zone: ZoneInfo, granularity: Granularity) -> str:
    day = local_date(instant, zone)
    return month_of(day) if granularity == "month" else week_of(day)


def labels(instant: datetime, zone: ZoneInfo) -> dict[Granularity, str]:
    day = local_date(instant, zone)
    return {"month": month_of(day), "week": week_of(day)}


def start_of(period: str) -> date:
    """The first day of a month or ISO-week label."""
    if "-W" in period:
        year, week = period.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def next_period(period: str) -> str:
    if "-W" in period:
        return week_of(start_of(period) + timedelta(days=7))
    day = start_of(period)
    return month_of(date(day.year + (day.month == 12), day.month % 12 + 1, 1))


def period_range(first: str, last: str) -> list[str]:
    """Every label from ``first`` to ``last`` inclusive (empty when ``last`` is before ``first``)."""
    out: list[str] = []
    current = first
    while start_of(current) <= start_of(last):
        out.append(current)
        current = next_period(current)
    return out


def previous_complete(today: date, granularity: Granularity) -> str:
    """The last period that has ended before ``today`` (the current one is still filling up)."""
    if granularity == "month":
        first = date(today.year, today.month, 1)
        return month_of(first - timedelta(days=1))
    return week_of(today - timedelta(days=today.isoweekday()))
