"""Property-based tests: the working-time arithmetic against a slow minute-by-minute oracle.

The oracle knows nothing of offsets or stretches: it walks UTC minute by minute, converts each
minute to the calendar's local time with ``zoneinfo`` and asks whether that local date and time
is working time. Calendars, instants and amounts are generated, with starts drawn near the
daylight-saving changes of the zones (Berlin, New York, Lord Howe's half-hour shift, Santiago's
change at midnight) as often as anywhere else, and holidays placed inside the range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.feedback.working_time import (
    MINUTE_US,
    WEEKDAYS,
    Calendar,
    SlaClock,
    Window,
    add_working_us,
    to_us,
    working_us,
)

ZONES = ["Asia/Jakarta", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
         "Asia/Kathmandu", "Pacific/Auckland", "UTC"]
# Days on or next to offset changes of those zones, and ordinary days.
NEAR_CHANGES = [date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 8), date(2026, 11, 1), date(2026, 4, 5),
                date(2026, 10, 4), date(2026, 9, 6), date(2026, 9, 27), date(2025, 12, 31)]
EXAMPLES = 150
SPAN_MINUTES = 6 * 24 * 60

oracle_settings = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def windows_of_a_day(draw: st.DrawFn) -> tuple[Window, ...]:
    cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=6)))  # half-hour boundaries
    pairs = [(cuts[i] * 30, cuts[i + 1] * 30) for i in range(0, len(cuts) - 1, 2)]
    return tuple(Window(s, e) for s, e in pairs if s < e)


@st.composite
def calendars(draw: st.DrawFn, around: date) -> Calendar:
    week = tuple(draw(windows_of_a_day()) for _ in WEEKDAYS)
    if not any(week):
        week = ((Window(540, 720), Window(780, 1020)),) * 5 + ((), ())
    holidays = draw(st.sets(st.integers(-1, 7).map(lambda n: around + timedelta(days=n)), max_size=3))
    return Calendar(time_zone=draw(st.sampled_from(ZONES)), week=week, holidays=frozenset(holidays))


@st.composite
def starts(draw: st.DrawFn) -> datetime:
    day = draw(st.one_of(st.sampled_from(NEAR_CHANGES), st.dates(date(2020, 1, 1), date(2032, 12, 31))))
    minute = draw(st.integers(-36 * 60, 36 * 60))
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)


def oracle_minutes(calendar: Calendar, start: datetime, minutes: int) -> list[bool]:
    """Whether each UTC minute from ``start`` is working time, by converting it to local time."""
    flags = []
    for n in range(minutes):
        local = (start + timedelta(minutes=n)).astimezone(calendar.zone)
        minute_of_day = local.hour * 60 + local.minute
        flags.append(any(w.start <= minute_of_day < w.end for w in calendar.windows_on(local.date())))
    return flags


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar, datetime]:
    start = draw(starts())
    return draw(calendars(start.date())), start


@oracle_settings
@given(case=cases(), length=st.integers(0, SPAN_MINUTES))
def test_working_time_between_two_instants_matches_the_oracle(case: tuple[Calendar, datetime], length: int) -> None:
    calendar, start = case
    expected = sum(oracle_minutes(calendar, start, length))
    assert working_us(calendar, to_us(start), to_us(start) + length * MINUTE_US) == expected * MINUTE_US


@oracle_settings
@given(case=cases(), amount=st.integers(1, 3 * 8 * 60))
def test_the_deadline_is_the_earliest_instant_with_that_much_working_time(case: tuple[Calendar, datetime],
                                                                           amount: int) -> None:
    calendar, start = case
    flags = oracle_minutes(calendar, start, SPAN_MINUTES)
    counted, expected = 0, None
    for n, working in enumerate(flags):
        counted += working
        if counted == amount:
            expected = n + 1  # the end of the minute that completed the amount
            break
    if expected is None:
        return  # not enough working time within the oracle's six days (a sparse calendar)
    assert add_working_us(calendar, to_us(start), amount * MINUTE_US) == to_us(start) + expected * MINUTE_US


@oracle_settings
@given(case=cases(), cuts=st.lists(st.integers(0, SPAN_MINUTES), min_size=2, max_size=2))
def test_working_time_is_additive(case: tuple[Calendar, datetime], cuts: list[int]) -> None:
    calendar, start = case
    a = to_us(start)
    b, c = (a + m * MINUTE_US + 17 for m in sorted(cuts))  # off the minute grid on purpose
    assert working_us(calendar, a, b) + working_us(calendar, b, c) == working_us(calendar, a, c)


@oracle_settings
@given(case=cases(), moments=st.lists(st.integers(0, SPAN_MINUTES), min_size=1, max_size=6, unique=True),
       target=st.integers(1, 40 * 60))
def test_a_clock_paused_and_resumed_counts_what_the_oracle_counts(case: tuple[Calendar, datetime],
                                                                  moments: list[int], target: int) -> None:
    """Pauses and resumes alternate at the given minutes; elapsed + held is all the working time."""
    calendar, start = case
    flags = oracle_minutes(calendar, start, SPAN_MINUTES)
    origin = to_us(start)
    clock = SlaClock.started(target=target * MINUTE_US, working=True, at=origin)
    running, expected_elapsed, expected_held, previous = True, 0, 0, 0
    for minute in sorted(moments):
        chunk = sum(flags[previous:minute])
        if running:
            expected_elapsed += chunk
        else:
            expected_held += chunk
        at = origin + minute * MINUTE_US
        clock = clock.pause(calendar, at) if running else clock.resume(calendar, at)
        running, previous = not running, minute
    end = origin + SPAN_MINUTES * MINUTE_US
    tail = sum(flags[previous:])
    stopped = clock.stop(calendar, end)
    assert stopped.elapsed == (expected_elapsed + (tail if running else 0)) * MINUTE_US
    assert stopped.held == (expected_held + (0 if running else tail)) * MINUTE_US
    assert stopped.breached == (stopped.elapsed > target * MINUTE_US)
    if clock.run == "running":
        due = clock.due_at(calendar)
        assert due is not None
        # Where the remaining time fits within the oracle's range, the deadline is where the oracle says.
        remaining = target - (clock.elapsed // MINUTE_US)
        counted = 0
        for n in range(previous, SPAN_MINUTES):
            counted += flags[n]
            if counted >= remaining:
                assert due == origin + (n + 1) * MINUTE_US if remaining > 0 else due == clock.since
                break
