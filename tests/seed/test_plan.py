"""The seed's plan: a pure, deterministic function with the brief's seasonality, shifts and rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from pelanggan.seed import incentives, orders
from pelanggan.seed.plan import Plan, build_plan, checksum
from services.incentives.rules.gifts import ALLOWED_CATEGORIES

UNTIL = date(2026, 12, 1)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_plan(seed=42, customer_count=600, months=24, until=UNTIL)


def test_same_seed_same_plan_and_another_seed_another(plan: Plan) -> None:
    again = build_plan(seed=42, customer_count=600, months=24, until=UNTIL)
    other = build_plan(seed=7, customer_count=600, months=24, until=UNTIL)
    assert checksum(again) == checksum(plan)
    assert checksum(other) != checksum(plan)
    assert other.customers[0]["body"]["name"] != plan.customers[0]["body"]["name"] or \
        other.orders[0]["body"] != plan.orders[0]["body"]


def test_sizes_follow_the_options(plan: Plan) -> None:
    assert len(plan.customers) == 600
    assert len(plan.employees) == 25
    assert 250 <= len(plan.products) <= 400
    assert plan.plans[0]["period"] == "2024-12" and plan.plans[-1]["period"] == "2026-11"
    assert len(plan.closed_periods) == 23
    assert {c["segment"] for c in plan.customers} == {"wholesale", "retail_shops", "printing_houses", "offices",
                                                       "schools", "individuals"}
    assert sum(1 for w in plan.weights if w["locomotive"]) == 6


def test_nothing_happens_after_the_history(plan: Plan) -> None:
    end = "2026-12-01"
    instants = [o["body"]["placed_at"] for o in plan.orders] + [o["pay"]["paid_at"] for o in plan.orders if "pay" in o]
    instants += [c["body"]["received_at"] for c in plan.cases]
    assert max(instants) < end
    for o in plan.orders:
        if "pay" in o:
            assert o["pay"]["paid_at"] > o["body"]["placed_at"]
        if "return" in o:
            assert o["return"]["returned_at"] > o["pay"]["paid_at"]


def test_money_is_decimal_strings_with_cost_below_price(plan: Plan) -> None:
    for product in plan.products:
        price, cost = Decimal(product["unit_price"]), Decimal(product["unit_cost"])
        assert isinstance(product["unit_price"], str) and price.as_tuple().exponent == -2
        assert 0 < cost < price
    for case in plan.cases:
        if amount := case.get("resolve", {}).get("compensation_amount"):
            assert isinstance(amount, str) and Decimal(amount) > 0
    for month in plan.plans:
        assert all(isinstance(t["target_points"], str) for t in month["body"]["employees"])


def _orders_by_month(plan: Plan, segments: set[str]) -> dict[int, int]:
    """Orders per calendar month of the customers there from the start (newcomers would add a growth trend)."""
    from_start = {c["key"] for c in plan.customers if c["registered_on"] < plan.history_start}
    counts: dict[int, int] = defaultdict(int)
    for o in plan.orders:
        if o["segment"] in segments and o["customer_key"] in from_start:
            counts[int(o["body"]["placed_at"][5:7])] += 1
    return counts


def test_back_to_school_and_year_end_peaks(plan: Plan) -> None:
    school = _orders_by_month(plan, {"schools", "retail_shops"})
    quiet = sum(school[m] for m in (3, 4, 5, 9, 10)) / 5
    assert school[7] > 1.8 * quiet and school[1] > 1.5 * quiet
    offices = _orders_by_month(plan, {"offices"})
    assert offices[12] > 1.5 * sum(offices[m] for m in (3, 4, 5, 9)) / 4


def test_planted_shift_doubles_packaging_for_printing_houses(plan: Plan) -> None:
    shift = next(s for s in orders.shifts(24) if s.category == "packaging")
    assert (shift.segment, shift.from_month, shift.factor) == ("printing_houses", 18, 2.0)
    share: dict[bool, list[int]] = {False: [0, 0], True: [0, 0]}  # after? -> [packaging units, all units]
    for o in plan.orders:
        if o["segment"] != "printing_houses":
            continue
        after = o["month_index"] >= shift.from_month
        for line in o["body"]["lines"]:
            share[after][1] += line["quantity"]
            share[after][0] += line["quantity"] if line["sku"].startswith("PKG-") else 0
    before, later = share[False][0] / share[False][1], share[True][0] / share[True][1]
    assert later > 1.5 * before


def test_gifts_are_never_personal_items_and_awards_fall_in_closed_periods(plan: Plan) -> None:
    assert {g["category"] for g in incentives.GIFTS} <= set(ALLOWED_CATEGORIES)
    assert plan.awards and all(a["body"]["period"] in plan.closed_periods for a in plan.awards)
    assert {a["gift_name"] for a in plan.awards} <= {g["name"] for g in incentives.GIFTS}


def test_keys_are_unique(plan: Plan) -> None:
    for items in (plan.customers, plan.orders, plan.cases, plan.interactions):
        keys = [i["key"] for i in items]
        assert len(keys) == len(set(keys))
    emails = [c["body"]["emails"][0] for c in plan.customers]
    assert len(emails) == len(set(emails))
