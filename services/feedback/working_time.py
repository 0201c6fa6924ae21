"""Working-time arithmetic of the SLA clocks: pure, no I/O, no clock of its own.

A ``Calendar`` is the company's time zone (IANA name), weekly working windows in local wall-clock
time (several a day: 09:00-12:00 and 13:00-17:00), and holidays (explicit dates, plus optionally a
country's public holidays from the ``holidays`` package). An instant is working time when its
local date (in the calendar's zone, never the viewer's or the server's) is not a holiday and its
local wall-clock time lies in one of that weekday's windows ``[start, end)``.

Arithmetic is exact, on integer UTC microseconds. Between two changes of the zone's UTC offset,
local time moves with UTC, so the UTC range is cut into stretches of constant offset and each
stretch is intersected with the windows of the local dates it covers. A daylight-saving change
inside a window or a deadline therefore counts exactly the time that really elapses (a window
01:00-04:00 holds two hours on the night the clocks go forward and four when they go back).
Offset changes are found by sampling the zone every six hours and bisecting to the second: the
zones in the IANA database never change their offset twice within six hours.

``SlaClock`` is one target's clock: elapsed time is accumulated at every pause and stop (never a
deadline recomputed from wall time), so a pause, a resume, or a calendar change only moves the
deadline of the time still to run.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_presets

US = 1_000_000
MINUTE_US = 60 * US
HOUR_US = 3600 * US
DAY_US = 86_400 * US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_SAMPLE_US = 6 * HOUR_US
# add_working_time gives up past this horizon: a calendar whose working time ends (every day
# a holiday) would otherwise loop for ever.
HORIZON_YEARS = 30
AT_RISK_NUMERATOR, AT_RISK_DENOMINATOR = 4, 5  # at risk from 80 % of the target
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")


class CalendarError(ValueError):
    """A calendar that cannot be used (unknown zone or country, overlapping windows, no working time)."""


class NoWorkingTime(CalendarError):
    """No working time is left within the horizon (every day a holiday, say)."""


# ----- instants ------------------------------------------------------------------------------------

def to_us(instant: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is refused, never read as local time."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a naive datetime has no instant: attach a time zone")
    return (instant - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _offset_us(zone: ZoneInfo, us: int) -> int:
    offset = from_us(us).astimezone(zone).utcoffset()
    assert offset is not None
    return offset // timedelta(microseconds=1)


@functools.lru_cache(maxsize=4096)
def _transitions(zone: ZoneInfo, year: int) -> tuple[int, ...]:
    """The instants (UTC us, whole seconds) in ``year`` at which ``zone`` changes its UTC offset."""
    start, end = to_us(datetime(year, 1, 1, tzinfo=UTC)), to_us(datetime(year + 1, 1, 1, tzinfo=UTC))
    found: list[int] = []
    previous, previous_offset = start, _offset_us(zone, start)
    sample = start + _SAMPLE_US
    while sample <= end:
        offset = _offset_us(zone, sample)
        if offset != previous_offset:
            low, high = previous // US, sample // US  # offset(low) is the old one, offset(high) the new one
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_us(zone, middle * US) == previous_offset:
                    low = middle
                else:
                    high = middle
            if high * US < end:
                found.append(high * US)
        previous, previous_offset = sample, offset
        sample += _SAMPLE_US
    return tuple(found)


def _year_of(us: int) -> int:
    return from_us(us).year


def _segments(zone: ZoneInfo, start: int, end: int | None) -> Iterator[tuple[int, int, int]]:
    """``(from, to, offset)`` stretches of constant UTC offset covering ``[start, end)`` (open-ended if None)."""
    year = _year_of(start)
    current = start
    last_year = year + HORIZON_YEARS
    while end is None or current < end:
        if end is None and year > last_year:
            raise NoWorkingTime(f"no working time within {HORIZON_YEARS} years")
        year_end = to_us(datetime(year + 1, 1, 1, tzinfo=UTC)) if year < 9999 else None
        points = [t for t in _transitions(zone, year) if t > current]
        if year_end is not None:
            points.append(year_end)
        for point in points:
            stop = point if end is None else min(point, end)
            if stop > current:
                yield current, stop, _offset_us(zone, current)
                current = stop
            if end is not None and current >= end:
                return
        if year_end is None:
            if end is None:
                raise NoWorkingTime("the calendar ran past the year 9999")
            yield current, end, _offset_us(zone, current)
            return
        year += 1


# ----- the calendar ----------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Window:
    """Local wall-clock minutes after midnight, ``[start, end)``; ``end`` 1440 is the next midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end <= 1440):
            raise CalendarError(f"a working window must start before it ends, within one day: {self}")

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        return cls(_minutes(start), _minutes(end))

    def label(self) -> tuple[str, str]:
        return _hhmm(self.start), _hhmm(self.end)


def _minutes(text: str) -> int:
    match = _HHMM.match(text)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise CalendarError(f"not a time of day HH:MM (00:00 to 24:00): {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@functools.lru_cache(maxsize=512)
def _country_holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    return dict(holiday_presets.country_holidays(country, subdiv=subdivision, years=year).items())


@dataclass(frozen=True)
class Calendar:
    time_zone: str
    week: tuple[tuple[Window, ...], ...]  # seven entries, Monday first
    holidays: frozenset[date] = frozenset()
    country: str | None = None
    subdivision: str | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown IANA time zone {self.time_zone!r}") from exc
        object.__setattr__(self, "zone", zone)
        if len(self.week) != 7:
            raise CalendarError("the week needs seven days of windows, Monday first")
        for name, windows in zip(WEEKDAYS, self.week, strict=True):
            for before, after in itertools.pairwise(windows):
                if after.start < before.end:
                    raise CalendarError(f"{name}: windows must be in order and must not overlap")
        if not any(self.week):
            raise CalendarError("the week has no working window")
        if self.country is not None:
            # Asking for one year imports only that country's module (listing every country costs 0.4 s).
            try:
                holiday_presets.country_holidays(self.country, subdiv=self.subdivision, years=2000)
            except (NotImplementedError, KeyError, ValueError) as exc:
                raise CalendarError(f"no public-holiday preset for {self.country!r}"
                                    f"{'' if self.subdivision is None else ' / ' + repr(self.subdivision)}") from exc
        elif self.subdivision is not None:
            raise CalendarError("a subdivision needs a country")

    @classmethod
    def build(cls, *, time_zone: str, week: dict[str, Iterable[tuple[str, str]]],
              holidays: Iterable[date] = (), country: str | None = None,
              subdivision: str | None = None) -> Calendar:
        """From weekday names to ``[("09:00", "12:00"), ...]``; days left out have no working time."""
        unknown = set(week) - set(WEEKDAYS)
        if unknown:
            raise CalendarError(f"unknown weekdays: {sorted(unknown)}")
        days = tuple(tuple(sorted(Window.parse(s, e) for s, e in week.get(name, ()))) for name in WEEKDAYS)
        return cls(time_zone=time_zone, week=days, holidays=frozenset(holidays), country=country,
                   subdivision=subdivision)

    def holiday_name(self, day: date) -> str | None:
        if day in self.holidays:
            return "company holiday"
        if self.country is not None:
            return _country_holidays(self.country, self.subdivision, day.year).get(day)
        return None

    def is_holiday(self, day: date) -> bool:
        return self.holiday_name(day) is not None

    def windows_on(self, day: date) -> tuple[Window, ...]:
        windows = self.week[day.weekday()]
        if not windows or self.is_holiday(day):
            return ()
        return windows

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)


def _working_intervals(calendar: Calendar, start: int, end: int | None) -> Iterator[tuple[int, int]]:
    """The working time in ``[start, end)`` as ordered, disjoint UTC intervals."""
    for low, high, offset in _segments(calendar.zone, start, end):
        first_day, last_day = (low + offset) // DAY_US, (high - 1 + offset) // DAY_US
        for day_index in range(first_day, last_day + 1):
            windows = calendar.windows_on(_EPOCH_DATE + timedelta(days=day_index))
            midnight = day_index * DAY_US - offset  # UTC instant of local midnight, at this offset
            for window in windows:
                begin = max(low, midnight + window.start * MINUTE_US)
                finish = min(high, midnight + window.end * MINUTE_US)
                if begin < finish:
                    yield begin, finish


def working_us(calendar: Calendar, start: int, end: int) -> int:
    """Working microseconds in ``[start, end)``; zero when ``end`` is not after ``start``."""
    if end <= start:
        return 0
    return sum(finish - begin for begin, finish in _working_intervals(calendar, start, end))


def add_working_us(calendar: Calendar, start: int, amount: int) -> int:
    """The earliest instant by which ``amount`` working microseconds have elapsed after ``start``."""
    if amount <= 0:
        return start
    remaining = amount
    for begin, finish in _working_intervals(calendar, start, None):
        if remaining <= finish - begin:
            return begin + remaining
        remaining -= finish - begin
    raise NoWorkingTime("no working time left")  # pragma: no cover - _segments raises first


def working_time(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """The working time between two instants (zero if ``end`` is not after ``start``)."""
    return timedelta(microseconds=working_us(calendar, to_us(start), to_us(end)))


def add_working_time(calendar: Calendar, start: datetime, amount: timedelta) -> datetime:
    """The instant when ``amount`` of working time has elapsed after ``start``."""
    return from_us(add_working_us(calendar, to_us(start), amount // timedelta(microseconds=1)))


def is_working(calendar: Calendar, instant: datetime) -> bool:
    us = to_us(instant)
    return working_us(calendar, us, us + 1) == 1


# ----- measuring in working or calendar time -----------------------------------------------------------

def span_us(calendar: Calendar, working: bool, start: int, end: int) -> int:
    """Elapsed time in ``[start, end)``: working time, or plain elapsed time for calendar-time targets."""
    if not working:
        return max(0, end - start)
    return working_us(calendar, start, end)


def advance_us(calendar: Calendar, working: bool, start: int, amount: int) -> int:
    if not working:
        return start + max(0, amount)
    return add_working_us(calendar, start, amount)


# ----- the SLA clock ----------------------------------------------------------------------------------

ClockRun = Literal["running", "paused", "stopped"]
ClockState = Literal["on_track", "at_risk", "breached", "met"]


def at_risk_threshold(target: int) -> int:
    """The elapsed time from which a clock is at risk: 80 % of the target, rounded up."""
    return -(-target * AT_RISK_NUMERATOR // AT_RISK_DENOMINATOR)


@dataclass(frozen=True)
class SlaClock:
    """One target's clock, as a case stores it.

    ``elapsed`` is the time counted up to ``since`` (the last start, resume, pause or stop);
    while running, the time after ``since`` is added on reading. ``held`` is the time (in the same
    measure) the clock spent paused. ``breached`` is sticky: set when the deadline passes while the
    clock runs (or the clock stops late) and never cleared. ``target`` None means no target.
    """

    target: int | None
    working: bool
    run: ClockRun = "running"
    elapsed: int = 0
    held: int = 0
    since: int = 0
    breached: bool = False

    @classmethod
    def started(cls, *, target: int | None, working: bool, at: int) -> SlaClock:
        return cls(target=target, working=working, run="running", since=at)

    def elapsed_at(self, calendar: Calendar, now: int) -> int:
        if self.run != "running":
            return self.elapsed
        return self.elapsed + span_us(calendar, self.working, self.since, now)

    def held_at(self, calendar: Calendar, now: int) -> int:
        if self.run != "paused":
            return self.held
        return self.held + span_us(calendar, self.working, self.since, now)

    def _checkpoint(self, calendar: Calendar, at: int, run: ClockRun) -> SlaClock:
        at = max(at, self.since)  # instants from several API replicas may be skewed a little
        elapsed, held = self.elapsed_at(calendar, at), self.held_at(calendar, at)
        breached = self.breached or (self.target is not None and elapsed > self.target)
        return replace(self, run=run, elapsed=elapsed, held=held, since=at, breached=breached)

    def pause(self, calendar: Calendar, at: int) -> SlaClock:
        return self._checkpoint(calendar, at, "paused") if self.run == "running" else self

    def resume(self, calendar: Calendar, at: int) -> SlaClock:
        return self._checkpoint(calendar, at, "running") if self.run == "paused" else self

    def stop(self, calendar: Calendar, at: int) -> SlaClock:
        return self._checkpoint(calendar, at, "stopped") if self.run != "stopped" else self

    def restart(self, calendar: Calendar, at: int) -> SlaClock:
        """Run again after a stop (a reopened case): the time already counted stays counted."""
        if self.run == "stopped":
            return replace(self, run="running", since=max(at, self.since))
        return self.resume(calendar, at)

    def rebased(self, calendar: Calendar, at: int) -> SlaClock:
        """Fold the time up to ``at`` into ``elapsed`` under ``calendar`` (before the calendar changes)."""
        return self._checkpoint(calendar, at, self.run) if self.run != "stopped" else self

    def mark_breached(self) -> SlaClock:
        return replace(self, breached=True)

    def due_at(self, calendar: Calendar) -> int | None:
        """When the target is reached, if the clock runs and has a target (possibly in the past)."""
        if self.run != "running" or self.target is None:
            return None
        if self.elapsed >= self.target:
            return self.since
        return advance_us(calendar, self.working, self.since, self.target - self.elapsed)

    def at_risk_at(self, calendar: Calendar) -> int | None:
        """When the clock reaches 80 % of its target: in the future only while it runs.

        A paused clock already past 80 % is at risk from its pause; a stopped clock never is.
        """
        if self.target is None or self.run == "stopped":
            return None
        threshold = at_risk_threshold(self.target)
        if self.elapsed >= threshold:
            return self.since
        if self.run == "paused":
            return None
        return advance_us(calendar, self.working, self.since, threshold - self.elapsed)

    def state(self, calendar: Calendar, now: int) -> ClockState:
        elapsed = self.elapsed_at(calendar, now)
        if self.breached or (self.target is not None and elapsed > self.target):
            return "breached"
        if self.run == "stopped":
            return "met"
        if self.target is not None and elapsed >= at_risk_threshold(self.target):
            return "at_risk"
        return "on_track"

    def remaining_at(self, calendar: Calendar, now: int) -> int | None:
        """Target minus elapsed time (negative once overdue); None without a target."""
        if self.target is None:
            return None
        return self.target - self.elapsed_at(calendar, now)
