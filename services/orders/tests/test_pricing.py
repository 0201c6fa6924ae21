"""Pricing rules (no I/O): rounding to the minor unit half-up, per-line discounts, exact returns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.orders import pricing
from services.orders.pricing import CatalogPrice, PricingError, price_line, price_order, prorate_return

D = Decimal


def test_round_money_is_half_up_to_the_minor_unit() -> None:
    assert pricing.round_money(D("0.005"), "IDR") == D("0.01")
    assert pricing.round_money(D("0.004999"), "IDR") == D("0.00")
    assert pricing.round_money(D("2.675"), "EUR") == D("2.68")  # a float would give 2.67
    assert pricing.round_money(D("-0.005"), "IDR") == D("-0.01")  # half away from zero
    assert pricing.round_money(D("2.5"), "JPY") == D("3")
    assert pricing.round_money(D("3.5"), "JPY") == D("4")  # not banker's rounding


def test_minor_units_per_currency() -> None:
    assert pricing.minor_digits("IDR") == 2
    assert pricing.minor_digits("JPY") == 0
    with pytest.raises(PricingError, match="three minor digits"):
        pricing.minor_digits("KWD")
    assert pricing.is_whole_minor_units(D("10.50"), "IDR")
    assert not pricing.is_whole_minor_units(D("10.505"), "IDR")
    assert not pricing.is_whole_minor_units(D("10.5"), "JPY")


def test_discount_is_rounded_per_line_and_totals_are_sums_of_lines() -> None:
    # 3 x 33.33 = 99.99 gross; 5% = 4.9995 -> 5.00 discount; net 94.99.
    a = CatalogPrice("a", unit_price=D("33.33"), unit_cost=D("20.10"))
    # 1 x 0.10 at 5% = 0.005 -> 0.01 discount (rounded up), net 0.09.
    b = CatalogPrice("b", unit_price=D("0.10"), unit_cost=D("0.02"))
    lines, totals = price_order([(a, 3), (b, 1)], discount_percent=D("5"), currency="IDR")
    assert [(ln.gross, ln.discount, ln.net, ln.cost, ln.margin) for ln in lines] == [
        (D("99.99"), D("5.00"), D("94.99"), D("60.30"), D("34.69")),
        (D("0.10"), D("0.01"), D("0.09"), D("0.02"), D("0.07")),
    ]
    assert totals.gross == D("100.09")
    assert totals.discount == D("5.01")  # a discount on the order total would be 5.0045 -> 5.00
    assert totals.net == totals.gross - totals.discount == D("95.08")
    assert totals.cost == D("60.32")
    assert totals.margin == D("34.76")


def test_price_line_refuses_impossible_inputs() -> None:
    price = CatalogPrice("a", unit_price=D("1.00"), unit_cost=D("0.50"))
    with pytest.raises(PricingError):
        price_line(price, quantity=0, discount_percent=D("0"), currency="IDR")
    with pytest.raises(PricingError):
        price_line(price, quantity=1, discount_percent=D("100.01"), currency="IDR")


def test_full_discount_and_zero_digit_currency() -> None:
    line = price_line(CatalogPrice("a", D("999"), D("500")), quantity=7, discount_percent=D("12.5"), currency="JPY")
    assert (line.gross, line.discount, line.net) == (D("6993"), D("874"), D("6119"))  # 874.125 -> 874
    free = price_line(CatalogPrice("a", D("10.00"), D("4.00")), quantity=2, discount_percent=D("100"), currency="IDR")
    assert (free.net, free.margin) == (D("0.00"), D("-8.00"))


def test_returns_in_parts_add_up_exactly_to_the_line_net() -> None:
    # 3 units, net 94.99 (after a per-line discount): one unit at a time must not lose a cent.
    parts = []
    for already in range(3):
        parts.append(prorate_return(line_quantity=3, line_net=D("94.99"), unit_price=D("33.33"),
                                    unit_cost=D("20.10"), already_returned=already, quantity=1, currency="IDR"))
    assert [p.net for p in parts] == [D("31.66"), D("31.67"), D("31.66")]
    assert sum(p.net for p in parts) == D("94.99")
    assert sum(p.gross for p in parts) == D("99.99")
    assert sum(p.discount for p in parts) == D("5.00")
    assert all(p.gross - p.discount == p.net for p in parts)
    assert sum(p.cost for p in parts) == D("60.30")


def test_a_return_in_one_go_equals_the_sum_of_the_same_return_in_parts() -> None:
    whole = prorate_return(line_quantity=7, line_net=D("100.00"), unit_price=D("15.00"), unit_cost=D("9.00"),
                           already_returned=0, quantity=7, currency="IDR")
    assert whole.net == D("100.00")
    two = prorate_return(line_quantity=7, line_net=D("100.00"), unit_price=D("15.00"), unit_cost=D("9.00"),
                         already_returned=0, quantity=2, currency="IDR")
    five = prorate_return(line_quantity=7, line_net=D("100.00"), unit_price=D("15.00"), unit_cost=D("9.00"),
                          already_returned=2, quantity=5, currency="IDR")
    assert (two.net, five.net) == (D("28.57"), D("71.43"))
    assert two.net + five.net == whole.net


def test_never_more_returned_than_bought() -> None:
    with pytest.raises(PricingError, match="only 1 of 3"):
        prorate_return(line_quantity=3, line_net=D("3.00"), unit_price=D("1.00"), unit_cost=D("0.50"),
                       already_returned=2, quantity=2, currency="IDR")
    with pytest.raises(PricingError):
        prorate_return(line_quantity=3, line_net=D("3.00"), unit_price=D("1.00"), unit_cost=D("0.50"),
                       already_returned=0, quantity=0, currency="IDR")
