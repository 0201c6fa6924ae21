"""The working-time arithmetic and the SLA clock, example by example (no I/O).

Each anchor failure named in the issue and in PITFALLS 30 has a test here: deadlines read in the
viewer's or server's time zone, hold time dropped from waiting straight to resolved, a first
response due on a non-working day, a case opened during lunch or on a holiday, a pause that
starts on a holiday, a daylight-saving change inside a deadline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.feedback.working_time import (
    HOUR_US,
    WEEKDAYS,
    Calendar,
    CalendarError,
    NoWorkingTime,
    SlaClock,
    Window,
    add_working_time,
    from_us,
    is_working,
    to_us,
    working_time,
)

H = timedelta(hours=1)
NORMAL_DAY = [("09:00", "12:00"), ("13:00", "17:00")]
WORKDAYS = {name: NORMAL_DAY for name in WEEKDAYS[:5]}
JKT = ZoneInfo("Asia/Jakarta")
BER = ZoneInfo("Europe/Berlin")
NYC = ZoneInfo("America/New_York")


def calendar(zone: str = "Asia/Jakarta", **kwargs: object) -> Calendar:
    return Calendar.build(time_zone=zone, week=kwargs.pop("week", WORKDAYS), **kwargs)  # type: ignore[arg-type]


JAKARTA = calendar("Asia/Jakarta", country="ID", holidays=[date(2026, 12, 24)])
BERLIN = calendar("Europe/Berlin", country="DE")
NEW_YORK = calendar("America/New_York")
ALWAYS_BERLIN = calendar("Europe/Berlin", week={name: [("00:00", "24:00")] for name in WEEKDAYS})


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def us(instant: datetime) -> int:
    return to_us(instant)


# ----- windows, lunch, weekends, holidays ------------------------------------------------------------

def test_lunch_break_is_not_working_time() -> None:
    assert add_working_time(JAKARTA, at(JKT, 2026, 11, 23, 11, 30), H) == at(JKT, 2026, 11, 23, 13, 30)
    assert working_time(JAKARTA, at(JKT, 2026, 11, 23, 11, 0), at(JKT, 2026, 11, 23, 14, 0)) == 2 * H
    assert not is_working(JAKARTA, at(JKT, 2026, 11, 23, 12, 30))
    assert is_working(JAKARTA, at(JKT, 2026, 11, 23, 13, 0))
    assert not is_working(JAKARTA, at(JKT, 2026, 11, 23, 17, 0))  # windows are [start, end)


def test_a_case_opened_during_lunch_counts_from_the_afternoon_window() -> None:
    opened = at(JKT, 2026, 11, 23, 12, 30)
    assert add_working_time(JAKARTA, opened, H) == at(JKT, 2026, 11, 23, 14, 0)
    assert working_time(JAKARTA, opened, at(JKT, 2026, 11, 23, 13, 0)) == timedelta(0)


def test_a_weekend_is_skipped() -> None:
    friday = at(JKT, 2026, 11, 27, 16, 30)
    assert friday.weekday() == 4
    assert add_working_time(JAKARTA, friday, H) == at(JKT, 2026, 11, 30, 9, 30)
    assert working_time(JAKARTA, friday, at(JKT, 2026, 11, 30, 10, 0)) == 1.5 * H
    assert working_time(JAKARTA, at(JKT, 2026, 11, 28, 9), at(JKT, 2026, 11, 29, 18)) == timedelta(0)


def test_a_public_holiday_of_the_country_preset_is_skipped() -> None:
    # 17 August 2026 (a Monday) is Indonesia's Independence Day.
    assert JAKARTA.holiday_name(date(2026, 8, 17)) == "Independence Day"
    friday = at(JKT, 2026, 8, 14, 16, 0)
    assert add_working_time(JAKARTA, friday, 2 * H) == at(JKT, 2026, 8, 18, 10, 0)


def test_a_company_holiday_is_skipped() -> None:
    assert JAKARTA.holiday_name(date(2026, 12, 24)) == "company holiday"
    assert add_working_time(JAKARTA, at(JKT, 2026, 12, 23, 16, 0), 2 * H) == at(JKT, 2026, 12, 28, 10, 0)
    # ... 25 December is Christmas Day in the preset, 26-27 a weekend.


def test_a_case_opened_on_a_holiday_starts_counting_on_the_next_working_day() -> None:
    opened = at(JKT, 2026, 8, 17, 10, 0)
    assert add_working_time(JAKARTA, opened, H) == at(JKT, 2026, 8, 18, 10, 0)


def test_the_first_response_is_never_due_on_a_non_working_day() -> None:
    # Opened on Friday evening with a 4-hour target: due Monday, not Saturday (ERPNext #38745).
    due = add_working_time(JAKARTA, at(JKT, 2026, 11, 27, 18, 0), 4 * H)
    assert due == at(JKT, 2026, 11, 30, 14, 0)
    local = JAKARTA.local(due)
    assert local.weekday() < 5 and not JAKARTA.is_holiday(local.date())
    assert is_working(JAKARTA, due - timedelta(microseconds=1))


def test_a_target_filling_a_window_exactly_is_due_at_its_end_not_after_lunch() -> None:
    assert add_working_time(JAKARTA, at(JKT, 2026, 11, 23, 9, 0), 3 * H) == at(JKT, 2026, 11, 23, 12, 0)


def test_zero_working_time_is_due_at_once() -> None:
    saturday = at(JKT, 2026, 11, 28, 10, 0)
    assert add_working_time(JAKARTA, saturday, timedelta(0)) == saturday


def test_a_long_span_counts_every_working_day() -> None:
    # 2026 in Berlin (Brandenburg-free federal holidays only): 52 weeks of 7 h days minus holidays.
    start, end = at(BER, 2026, 1, 1, 0, 0), at(BER, 2027, 1, 1, 0, 0)
    workdays = sum(1 for n in range(365) if (d := date(2026, 1, 1) + timedelta(days=n)).weekday() < 5
                   and not BERLIN.is_holiday(d))
    assert working_time(BERLIN, start, end) == workdays * 7 * H


# ----- time zones ------------------------------------------------------------------------------------

def test_deadlines_are_computed_in_the_calendars_zone_not_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # A case received Monday 09:00 in Jakarta (02:00Z), 1 working hour: due 10:00 Jakarta (03:00Z).
    received = at(JKT, 2026, 11, 23, 9, 0)
    expected = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    for server_zone in ("UTC", "America/Los_Angeles", "Pacific/Kiritimati"):
        monkeypatch.setenv("TZ", server_zone)
        time.tzset()
        assert add_working_time(JAKARTA, received, H) == expected
    monkeypatch.delenv("TZ")
    time.tzset()


def test_the_viewers_offset_does_not_change_the_answer() -> None:
    received_utc = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    viewer = received_utc.astimezone(ZoneInfo("America/Los_Angeles"))  # Sunday 18:00 for the viewer
    assert viewer.weekday() == 6
    assert add_working_time(JAKARTA, viewer, H) == add_working_time(JAKARTA, received_utc, H)
    # A new case is never breached at once, whatever zone it is looked at from.
    clock = SlaClock.started(target=HOUR_US, working=True, at=us(viewer))
    assert clock.state(JAKARTA, us(viewer)) == "on_track"
    assert clock.due_at(JAKARTA) == us(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))


def test_a_naive_instant_is_refused_rather_than_read_as_local_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        working_time(JAKARTA, datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


def test_the_same_local_hours_are_different_instants_in_different_zones() -> None:
    monday_utc = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert add_working_time(JAKARTA, monday_utc, H) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert add_working_time(BERLIN, monday_utc, H) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert add_working_time(NEW_YORK, monday_utc, H) == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    kathmandu = calendar("Asia/Kathmandu")  # UTC+05:45
    assert add_working_time(kathmandu, monday_utc, H) == datetime(2026, 11, 23, 4, 15, tzinfo=UTC)


def test_a_working_day_crossing_utc_midnight_belongs_to_its_local_date() -> None:
    # Auckland's Monday 09:00-17:00 is Sunday 20:00Z-04:00Z (NZDT, +13).
    auckland = calendar("Pacific/Auckland")
    sunday_utc = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    assert is_working(auckland, sunday_utc)
    assert working_time(auckland, datetime(2026, 11, 22, 0, 0, tzinfo=UTC),
                        datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == 3 * H  # 09:00-12:00 Monday local


# ----- daylight saving ---------------------------------------------------------------------------------

def test_dst_spring_forward_inside_a_working_time_deadline() -> None:
    # Berlin moves to CEST on Sunday 29 March 2026. Friday 16:00 CET + 2 h -> Monday 10:00 CEST.
    due = add_working_time(BERLIN, at(BER, 2026, 3, 27, 16, 0), 2 * H)
    assert due == at(BER, 2026, 3, 30, 10, 0)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # +02:00 now, +01:00 on Friday
    # New York moves on Sunday 8 March 2026.
    due_ny = add_working_time(NEW_YORK, at(NYC, 2026, 3, 6, 16, 0), 2 * H)
    assert due_ny == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_dst_fall_back_inside_a_working_time_deadline() -> None:
    due = add_working_time(NEW_YORK, at(NYC, 2026, 10, 30, 16, 0), 2 * H)  # clocks go back 1 November
    assert due == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_a_window_spanning_the_change_holds_the_hours_that_really_elapse() -> None:
    night = calendar("Europe/Berlin", week={name: [("00:00", "06:00")] for name in WEEKDAYS})
    assert working_time(night, at(BER, 2026, 3, 29, 0, 0), at(BER, 2026, 3, 29, 12, 0)) == 5 * H
    assert working_time(night, at(BER, 2026, 10, 25, 0, 0), at(BER, 2026, 10, 25, 12, 0)) == 7 * H
    # Six working hours from Sunday midnight end at 07:00 local on the short night... of the next day:
    assert add_working_time(night, at(BER, 2026, 3, 29, 0, 0), 6 * H) == at(BER, 2026, 3, 30, 1, 0)


def test_a_window_starting_inside_the_skipped_hour() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin: the window starts when local time reaches it.
    odd = calendar("Europe/Berlin", week={name: [("02:30", "04:00")] for name in WEEKDAYS})
    assert working_time(odd, at(BER, 2026, 3, 29, 0, 0), at(BER, 2026, 3, 29, 12, 0)) == H
    # On 25 October 02:00-03:00 happens twice: 02:30-03:00 CEST, then 02:30-04:00 CET.
    assert working_time(odd, at(BER, 2026, 10, 25, 0, 0), at(BER, 2026, 10, 25, 12, 0)) == 2 * H


def test_calendar_time_targets_count_real_elapsed_time_across_dst() -> None:
    clock = SlaClock.started(target=24 * HOUR_US, working=False, at=us(at(BER, 2026, 3, 28, 12, 0)))
    due = from_us(clock.due_at(BERLIN))  # type: ignore[arg-type]
    assert due.astimezone(BER) == at(BER, 2026, 3, 29, 13, 0)  # 24 real hours, 25 on the wall clock
    assert ALWAYS_BERLIN.week[0] == (Window(0, 1440),)


# ----- the clock: pause and resume, stop, breach -------------------------------------------------------

def test_pause_and_resume_keep_the_time_counted_and_move_the_deadline() -> None:
    monday = at(JKT, 2026, 11, 23, 9, 0)
    clock = SlaClock.started(target=8 * HOUR_US, working=True, at=us(monday))
    assert from_us(clock.due_at(JAKARTA)) == at(JKT, 2026, 11, 24, 10, 0)  # type: ignore[arg-type]
    paused = clock.pause(JAKARTA, us(at(JKT, 2026, 11, 23, 11, 0)))
    assert paused.elapsed == 2 * HOUR_US and paused.due_at(JAKARTA) is None
    wednesday = at(JKT, 2026, 11, 25, 9, 0)
    assert paused.elapsed_at(JAKARTA, us(wednesday)) == 2 * HOUR_US
    assert paused.held_at(JAKARTA, us(wednesday)) == 12 * HOUR_US  # Mon 11-12, 13-17, all of Tuesday
    resumed = paused.resume(JAKARTA, us(wednesday))
    assert resumed.held == 12 * HOUR_US
    assert from_us(resumed.due_at(JAKARTA)) == at(JKT, 2026, 11, 25, 16, 0)  # type: ignore[arg-type]
    assert resumed.elapsed_at(JAKARTA, us(at(JKT, 2026, 11, 25, 10, 0))) == 3 * HOUR_US


def test_hold_time_is_kept_when_a_case_goes_from_waiting_straight_to_resolved() -> None:
    clock = SlaClock.started(target=8 * HOUR_US, working=True, at=us(at(JKT, 2026, 11, 23, 9, 0)))
    waiting = clock.pause(JAKARTA, us(at(JKT, 2026, 11, 23, 10, 0)))
    resolved = waiting.stop(JAKARTA, us(at(JKT, 2026, 11, 24, 16, 0)))
    assert resolved.run == "stopped"
    assert resolved.elapsed == HOUR_US  # the wait is not resolution time...
    assert resolved.held == (2 + 4 + 6) * HOUR_US  # ...and it is not lost either (frappe/helpdesk #3776)
    assert resolved.state(JAKARTA, us(at(JKT, 2026, 12, 1, 9, 0))) == "met"


def test_a_pause_that_starts_on_a_holiday_is_a_pause() -> None:
    # Dynamics 365 ignores a hold placed on a holiday; here the pause counts from when it was placed.
    friday = at(JKT, 2026, 8, 14, 9, 0)
    clock = SlaClock.started(target=16 * HOUR_US, working=True, at=us(friday))
    on_holiday = clock.pause(JAKARTA, us(at(JKT, 2026, 8, 17, 10, 0)))
    assert on_holiday.elapsed == 7 * HOUR_US
    back = on_holiday.resume(JAKARTA, us(at(JKT, 2026, 8, 18, 11, 0)))
    assert back.elapsed == 7 * HOUR_US and back.held == 2 * HOUR_US
    assert from_us(back.due_at(JAKARTA)) == at(JKT, 2026, 8, 19, 14, 0)  # type: ignore[arg-type]


def test_a_first_response_on_a_non_working_day_stops_the_clock_with_the_working_time_so_far() -> None:
    clock = SlaClock.started(target=HOUR_US, working=True, at=us(at(JKT, 2026, 11, 27, 16, 30)))
    replied = clock.stop(JAKARTA, us(at(JKT, 2026, 11, 28, 10, 0)))  # a Saturday
    assert replied.elapsed == HOUR_US // 2
    assert replied.state(JAKARTA, us(at(JKT, 2026, 12, 7, 9, 0))) == "met"


def test_at_risk_from_80_percent_then_breached() -> None:
    start = at(JKT, 2026, 11, 23, 9, 0)
    clock = SlaClock.started(target=5 * HOUR_US, working=True, at=us(start))
    assert from_us(clock.at_risk_at(JAKARTA)) == at(JKT, 2026, 11, 23, 14, 0)  # type: ignore[arg-type]
    assert clock.state(JAKARTA, us(at(JKT, 2026, 11, 23, 13, 59))) == "on_track"
    assert clock.state(JAKARTA, us(at(JKT, 2026, 11, 23, 14, 0))) == "at_risk"
    assert clock.state(JAKARTA, us(at(JKT, 2026, 11, 23, 15, 0))) == "at_risk"  # due exactly now: not late yet
    assert clock.state(JAKARTA, us(at(JKT, 2026, 11, 23, 15, 1))) == "breached"
    assert clock.remaining_at(JAKARTA, us(at(JKT, 2026, 11, 23, 16, 0))) == -HOUR_US


def test_a_paused_clock_past_80_percent_stays_at_risk_and_below_it_has_no_risk_instant() -> None:
    clock = SlaClock.started(target=5 * HOUR_US, working=True, at=us(at(JKT, 2026, 11, 23, 9, 0)))
    late = clock.pause(JAKARTA, us(at(JKT, 2026, 11, 23, 14, 30)))
    assert late.at_risk_at(JAKARTA) == late.since and late.state(JAKARTA, late.since + HOUR_US) == "at_risk"
    early = clock.pause(JAKARTA, us(at(JKT, 2026, 11, 23, 10, 0)))
    assert early.at_risk_at(JAKARTA) is None


def test_a_breach_is_sticky_through_resolution_and_reopening() -> None:
    clock = SlaClock.started(target=HOUR_US, working=True, at=us(at(JKT, 2026, 11, 23, 9, 0)))
    late = clock.stop(JAKARTA, us(at(JKT, 2026, 11, 23, 11, 0)))
    assert late.breached and late.state(JAKARTA, late.since) == "breached"
    reopened = late.restart(JAKARTA, us(at(JKT, 2026, 11, 24, 9, 0)))
    assert reopened.breached and reopened.elapsed == 2 * HOUR_US
    # Detected while running, then stopped early: still breached.
    detected = SlaClock.started(target=HOUR_US, working=True, at=0).mark_breached()
    assert detected.stop(JAKARTA, 1).state(JAKARTA, 1) == "breached"


def test_a_reopened_clock_continues_from_the_time_already_counted() -> None:
    clock = SlaClock.started(target=8 * HOUR_US, working=True, at=us(at(JKT, 2026, 11, 23, 9, 0)))
    resolved = clock.stop(JAKARTA, us(at(JKT, 2026, 11, 23, 12, 0)))
    reopened = resolved.restart(JAKARTA, us(at(JKT, 2026, 11, 30, 9, 0)))
    assert from_us(reopened.due_at(JAKARTA)) == at(JKT, 2026, 11, 30, 15, 0)  # type: ignore[arg-type]


def test_a_calendar_change_keeps_what_was_counted_under_the_old_calendar() -> None:
    clock = SlaClock.started(target=8 * HOUR_US, working=True, at=us(at(JKT, 2026, 11, 23, 9, 0)))
    rebased = clock.rebased(JAKARTA, us(at(JKT, 2026, 11, 23, 14, 0)))
    assert rebased.elapsed == 4 * HOUR_US and rebased.run == "running"
    closed_tuesday = calendar("Asia/Jakarta", holidays=[date(2026, 11, 24)])
    assert from_us(rebased.due_at(closed_tuesday)) == at(JKT, 2026, 11, 25, 10, 0)  # type: ignore[arg-type]


def test_a_clock_without_target_never_breaches() -> None:
    clock = SlaClock.started(target=None, working=True, at=0)
    assert clock.due_at(JAKARTA) is None and clock.at_risk_at(JAKARTA) is None
    assert clock.state(JAKARTA, 10**15) == "on_track"


def test_skewed_instants_never_count_negative_time() -> None:
    clock = SlaClock.started(target=HOUR_US, working=False, at=1_000)
    assert clock.pause(JAKARTA, 500).elapsed == 0


# ----- calendar validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: calendar("Mars/Olympus_Mons"),
    lambda: calendar("../../etc/passwd"),
    lambda: calendar(week={"monday": [("09:00", "12:00"), ("11:00", "13:00")]}),
    lambda: calendar(week={"monday": [("12:00", "09:00")]}),
    lambda: calendar(week={"monday": [("09:00", "24:30")]}),
    lambda: calendar(week={"monday": [("9:00", "12:00")]}),
    lambda: calendar(week={"funday": [("09:00", "12:00")]}),
    lambda: calendar(week={}),
    lambda: calendar(country="XX"),
    lambda: calendar(country="DE", subdivision="ZZ"),
    lambda: calendar(subdivision="BE"),
])
def test_unusable_calendars_are_refused(build: object) -> None:
    with pytest.raises(CalendarError):
        build()  # type: ignore[operator]


def test_a_window_may_end_at_midnight() -> None:
    late = calendar(week={"monday": [("20:00", "24:00")]})
    assert working_time(late, at(JKT, 2026, 11, 23, 0, 0), at(JKT, 2026, 11, 24, 0, 0)) == 4 * H


def test_a_calendar_without_working_time_left_gives_up_instead_of_looping() -> None:
    mondays = [date(2026, 11, 23) + timedelta(weeks=n) for n in range(0, 52 * 32)]
    closed = calendar(week={"monday": NORMAL_DAY}, holidays=mondays)
    with pytest.raises(NoWorkingTime):
        add_working_time(closed, at(JKT, 2026, 11, 23, 9, 0), H)


@pytest.fixture(autouse=True)
def _server_zone_restored() -> Iterator[None]:
    before = os.environ.get("TZ")
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()
