"""Loyalty rules (no I/O): thresholds, windows, downgrades, reversals dated at the purchase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.loyalty import (
    Entry,
    Program,
    ProgramError,
    Tier,
    default_program,
    months_before,
    qualified_tier,
    spend_in_window,
    standing,
    validate_program,
)

D = Decimal
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TIERS = (Tier("base", D("0"), D("0")), Tier("silver", D("1000.00"), D("5")), Tier("gold", D("5000.00"), D("10")))


def program(window: str = "lifetime", months: int | None = None, downgrade: str = "reevaluate") -> Program:
    return Program(version=1, currency="IDR", window=window, window_months=months,  # type: ignore[arg-type]
                   downgrade=downgrade, tiers=TIERS)  # type: ignore[arg-type]


def test_a_tier_is_reached_exactly_at_its_threshold() -> None:
    p = program()
    assert qualified_tier(p, D("999.99")).name == "base"
    assert qualified_tier(p, D("1000.00")).name == "silver"
    assert qualified_tier(p, D("4999.99")).name == "silver"
    assert qualified_tier(p, D("5000.00")).name == "gold"
    assert qualified_tier(p, D("-5")).name == "base"


def test_standing_names_the_next_tier_and_what_it_still_takes() -> None:
    s = standing(program(), [Entry(NOW - timedelta(days=1), D("1200.50"))], NOW)
    assert s.tier.name == "silver"
    assert s.next_tier is not None and s.next_tier.name == "gold"
    assert s.amount_to_next_tier == D("3799.50")
    top = standing(program(), [Entry(NOW, D("5000.00"))], NOW)
    assert top.tier.name == "gold" and top.next_tier is None and top.amount_to_next_tier is None


@pytest.mark.parametrize("downgrade", ["never", "reevaluate"])
def test_a_return_crossing_a_boundary_takes_the_tier_down(downgrade: str) -> None:
    paid_at = NOW - timedelta(days=3)
    entries = [Entry(paid_at, D("600.00")), Entry(paid_at + timedelta(hours=1), D("400.00"))]
    assert standing(program(downgrade=downgrade), entries, NOW).tier.name == "silver"  # exactly 1000.00
    # One cent returned from the second order: the reversal is dated at that order's payment.
    entries.append(Entry(paid_at + timedelta(hours=1), D("-0.01")))
    after = standing(program(downgrade=downgrade), entries, NOW)
    assert after.spend_in_window == D("999.99")
    assert after.tier.name == "base"  # even "never downgrade" gives up a tier its purchases no longer earn
    assert after.amount_to_next_tier == D("0.01")


def test_rolling_window_counts_n_calendar_months_back_exclusive_of_the_start() -> None:
    p = program(window="rolling", months=12)
    start = months_before(NOW, 12)
    assert start == datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    entries = [Entry(start, D("700.00")),  # exactly 12 months ago: out
               Entry(start + timedelta(seconds=1), D("300.00")),  # in
               Entry(NOW, D("700.00"))]  # now: in
    assert spend_in_window(p, entries, NOW) == D("1000.00")
    assert spend_in_window(program(), entries, NOW) == D("1700.00")  # lifetime counts all


def test_rolling_window_expiry_downgrades_only_with_reevaluate() -> None:
    old = NOW - timedelta(days=400)
    entries = [Entry(old, D("1500.00")), Entry(NOW - timedelta(days=10), D("100.00"))]
    reevaluate = standing(program(window="rolling", months=12, downgrade="reevaluate"), entries, NOW)
    assert (reevaluate.spend_in_window, reevaluate.tier.name) == (D("100.00"), "base")
    never = standing(program(window="rolling", months=12, downgrade="never"), entries, NOW)
    assert (never.spend_in_window, never.tier.name) == (D("100.00"), "silver")  # earned once, kept
    assert never.amount_to_next_tier == D("4900.00")


def test_returning_a_purchase_that_already_left_the_window_does_not_lower_the_window_again() -> None:
    p = program(window="rolling", months=12, downgrade="reevaluate")
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=5)
    entries = [Entry(old, D("800.00")), Entry(recent, D("1000.00")),
               Entry(old, D("-800.00"))]  # the old order returned today: dated at its payment
    s = standing(p, entries, NOW)
    assert s.spend_in_window == D("1000.00")
    assert s.tier.name == "silver"


def test_never_downgrade_keeps_a_tier_only_while_the_purchases_that_earned_it_stand() -> None:
    p = program(window="rolling", months=12, downgrade="never")
    first = NOW - timedelta(days=500)
    entries = [Entry(first, D("5000.00"))]  # gold, long ago; window expired since
    assert standing(p, entries, NOW).tier.name == "gold"
    entries.append(Entry(first, D("-4500.00")))  # most of it returned
    assert standing(p, entries, NOW).tier.name == "base"


def test_months_before_clamps_to_the_end_of_a_shorter_month() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2024, 3, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)


@pytest.mark.parametrize(("tiers", "message"), [
    ((Tier("silver", D("100"), D("5")),), "base tier"),
    ((Tier("base", D("0"), D("0")), Tier("a", D("100"), D("5")), Tier("b", D("100"), D("6"))), "ascend"),
    ((Tier("base", D("0"), D("0")), Tier("a", D("200"), D("5")), Tier("b", D("100"), D("6"))), "ascend"),
    ((Tier("base", D("0"), D("0")), Tier("Base", D("100"), D("5"))), "unique"),
    ((Tier("base", D("0"), D("0")), Tier("a", D("100"), D("100.5"))), "between 0 and 100"),
    ((Tier("base", D("0"), D("-1")),), "between 0 and 100"),
    ((Tier("base", D("0"), D("5")), Tier("a", D("100"), D("4"))), "never gives less"),
    ((Tier("base", D("0"), D("0")), Tier("a", D("100.001"), D("4"))), "whole amount"),
    ((), "1 to 20 tiers"),
])
def test_program_validation(tiers: tuple[Tier, ...], message: str) -> None:
    with pytest.raises(ProgramError, match=message):
        validate_program(Program(version=1, currency="IDR", window="lifetime", window_months=None,
                                 downgrade="never", tiers=tiers))


def test_window_months_go_with_a_rolling_window_only() -> None:
    with pytest.raises(ProgramError, match="rolling window lasts"):
        validate_program(program(window="rolling", months=None))
    with pytest.raises(ProgramError, match="only with a rolling window"):
        validate_program(program(window="lifetime", months=12))
    validate_program(program(window="rolling", months=12))
    validate_program(program())


def test_the_default_program_is_the_demo_companys_tiers_in_rupiah() -> None:
    default = default_program("IDR")
    validate_program(default)
    assert (default.version, default.window, default.downgrade) == (0, "lifetime", "never")
    assert [(t.name, t.threshold, t.discount_percent) for t in default.tiers] == [
        ("base", D("0"), D("0")), ("silver", D("10000000"), D("2")), ("gold", D("50000000"), D("3.5")),
        ("platinum", D("150000000"), D("5"))]
    entries = [Entry(NOW - timedelta(days=400), D("49999999.00")), Entry(NOW, D("1.00"))]
    assert standing(default, entries, NOW).tier.name == "gold"  # lifetime: old purchases still count


def test_the_default_program_in_another_currency_has_no_rupiah_thresholds() -> None:
    default = default_program("EUR")
    validate_program(default)
    assert [(t.name, t.threshold, t.discount_percent) for t in default.tiers] == [("base", D("0"), D("0"))]
