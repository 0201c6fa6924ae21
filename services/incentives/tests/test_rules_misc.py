"""The tie rule, the gift policy, periods and weights in force (pure rules, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.incentives.rules import bonus, contribution, gifts, leaderboard
from services.incentives.rules.periods import Period, PeriodError, period_of

D = Decimal


def standing(employee_id: str, points: str, complaints: int = 0, csat: str | None = None,
             hired: date | None = date(2024, 1, 1), eligible: bool = True) -> leaderboard.Standing:
    return leaderboard.Standing(employee_id=employee_id, points=D(points), complaints=complaints,
                                csat=D(csat) if csat is not None else None, hired_on=hired, eligible=eligible)


def order(*standings: leaderboard.Standing) -> list[tuple[str, str | None]]:
    return [(r.standing.employee_id, r.decided_by) for r in leaderboard.rank(standings)]


def test_the_tie_rule_step_by_step() -> None:
    # Equal points: fewer complaints first (lower is better).
    assert order(standing("x", "100", complaints=2), standing("y", "100", complaints=1)) == [
        ("y", None), ("x", "complaints")]
    # Equal points and complaints: higher CSAT first; no ratings after any rating, even a poor one.
    assert order(standing("x", "100", csat="4.10"), standing("y", "100", csat="4.50"),
                 standing("z", "100", csat=None), standing("w", "100", csat="1.00")) == [
        ("y", None), ("x", "csat"), ("w", "csat"), ("z", "csat")]
    # Equal points, complaints and CSAT: the earlier hire first; unknown hire date last.
    assert order(standing("x", "100", csat="4", hired=date(2024, 6, 1)),
                 standing("y", "100", csat="4", hired=date(2021, 6, 1)),
                 standing("z", "100", csat="4", hired=None)) == [("y", None), ("x", "hired_on"), ("z", "hired_on")]
    # Everything equal: the id, so the order is total.
    assert order(standing("b", "100"), standing("a", "100")) == [("a", None), ("b", "employee_id")]
    # Points decide before anything else: more complaints do not beat more points.
    assert order(standing("x", "99", complaints=0, csat="5"), standing("y", "100", complaints=9)) == [
        ("y", None), ("x", "weighted_points")]


def test_below_the_minimum_fulfilment_one_cannot_win_but_keeps_the_place() -> None:
    ranked = leaderboard.rank([standing("top", "900", eligible=False), standing("next", "800"),
                               standing("third", "700")])
    assert [r.standing.employee_id for r in ranked] == ["top", "next", "third"]
    best = leaderboard.winner(ranked)
    assert best is not None and (best.standing.employee_id, best.rank) == ("next", 2)
    assert leaderboard.winner(leaderboard.rank([standing("a", "0"), standing("b", "5", eligible=False)])) is None


@pytest.mark.parametrize(("category", "name", "description"), [
    ("household_appliances", "Philips air fryer 4.1 L", "A kitchen appliance for the family"),
    ("computers_electronics", "Lenovo ThinkPad E14", "Laptop with 16 GB RAM"),
    ("gift_certificates", "Voucher belanja Rp 1.000.000", "Gift certificate for goods at Sarinah"),
    ("gift_certificates", "Spa voucher", "Certificate for services at a day spa"),
    ("event_tickets", "Two tickets to watch the Jakarta Philharmonic", "Concert, front rows"),
    ("event_tickets", "Java Jazz Festival pass", None),
    ("computers_electronics", "USB string light", "Ringtone-free: a wiring kit for the stringed lights"),
    ("household_appliances", "Jam dinding digital", "Wall clock for the office"),
    ("books_media", "Kindle Paperwhite subscription", "E-reader with a year of books"),
])
def test_allowed_gifts(category: str, name: str, description: str | None) -> None:
    assert gifts.check_gift(category=category, name=name, description=description) is None


@pytest.mark.parametrize(("category", "name", "description", "rule", "field", "matched"), [
    # by category
    ("clothing", "Company polo", None, "clothing", "category", "clothing"),
    ("jewellery", "Pearl set", None, "jewellery", "category", "jewellery"),
    ("personal_items", "Travel kit", None, "personal-items", "category", "personal_items"),
    ("watches", "Seiko 5", None, "jewellery", "category", "watches"),
    ("toys", "Lego set", None, "category-not-listed", "category", "toys"),
    # disguised under an allowed category
    ("computers_electronics", "Gold bracelet", "Premium", "jewellery", "name", "bracelet"),
    ("computers_electronics", "Premium gift box", "Contains a GOLD Bracelet and a card", "jewellery",
     "description", "bracelet"),
    ("computers_electronics", "Apple Watch Series 10", "Smart device", "jewellery", "name", "watch"),
    ("computers_electronics", "Galaxy smartwatch", None, "jewellery", "name", "smartwatch"),
    ("household_appliances", "Jam tangan Casio", None, "jewellery", "name", "jam tangan"),
    ("household_appliances", "Cincin emas 24K", None, "jewellery", "name", "cincin"),
    ("gift_certificates", "Kalung mutiara", None, "jewellery", "name", "kalung"),
    ("gift_certificates", "Gelang perak", None, "jewellery", "name", "gelang"),
    ("household_appliances", "Diamond ring", None, "jewellery", "name", "ring"),
    ("household_appliances", "Silver necklace", None, "jewellery", "name", "necklace"),
    ("gift_certificates", "Minyak wangi Arab", None, "personal-items", "name", "minyak wangi"),
    ("gift_certificates", "Chanel perfume", None, "personal-items", "name", "perfume"),
    ("gift_certificates", "Kemeja batik", None, "clothing", "name", "kemeja"),
    ("gift_certificates", "T-shirt with logo", None, "clothing", "name", "tshirt"),
    ("event_tickets", "Evening dress", None, "clothing", "name", "dress"),
    ("event_tickets", "Gaun pesta", None, "clothing", "name", "gaun"),
    ("computers_electronics", "Running shoes", None, "clothing", "name", "shoes"),
    ("computers_electronics", "Kasut sukan", None, "clothing", "name", "kasut"),
    ("computers_electronics", "Sepatu kulit", None, "clothing", "name", "sepatu"),
    # accents are stripped before matching: "bracélet" is still a bracelet
    ("household_appliances", "Brac\u00e9let en or", None, "jewellery", "name", "bracelet"),
])
def test_refused_gifts(category: str, name: str, description: str | None, rule: str, field: str,
                       matched: str) -> None:
    refusal = gifts.check_gift(category=category, name=name, description=description)
    assert refusal is not None
    assert (refusal.rule, refusal.field, refusal.matched) == (rule, field, matched)
    assert refusal.detail


def test_periods_in_the_company_time_zone() -> None:
    jakarta = ZoneInfo("Asia/Jakarta")
    assert str(period_of(datetime(2026, 2, 28, 17, 30, tzinfo=UTC), jakarta)) == "2026-03"
    assert str(period_of(datetime(2026, 2, 28, 16, 59, tzinfo=UTC), jakarta)) == "2026-02"
    march = Period.parse("2026-03")
    assert march.starts_at(jakarta) == datetime(2026, 2, 28, 17, 0, tzinfo=UTC)
    assert march.ends_at(jakarta) == datetime(2026, 3, 31, 17, 0, tzinfo=UTC)
    assert (str(Period.parse("2026-12").next()), str(Period.parse("2026-01").previous())) == ("2027-01", "2025-12")
    for bad in ("2026-13", "2026-3", "26-03", "0000-01", "2026-03-01", "", "\uff12\uff10\uff12\uff16-03", "2026-03\n"):
        with pytest.raises(PeriodError):
            Period.parse(bad)


def test_weights_are_never_retroactive() -> None:
    change = datetime(2026, 3, 16, tzinfo=UTC)
    history = [contribution.WeightInForce(D("2"), True, change)]
    assert contribution.weight_at(history, datetime(2026, 3, 15, 23, tzinfo=UTC)) == contribution.NEUTRAL
    assert contribution.weight_at(history, change).weight == D("2")


def test_policy_checks() -> None:
    with pytest.raises(bonus.PolicyError):
        bonus.check_tiers([bonus.AcceleratorTier(D("90"), D("1.5"))])
    with pytest.raises(bonus.PolicyError):
        bonus.check_tiers([bonus.AcceleratorTier(D("120"), D("1.5")), bonus.AcceleratorTier(D("110"), D("2"))])
    with pytest.raises(bonus.PolicyError):
        bonus.check_tiers([bonus.AcceleratorTier(D("100"), D("0.5"))])
    with pytest.raises(bonus.PolicyError):
        bonus.check_quality(bonus.QualityRule(floor_percent=D("120")))
    # No tiers: every point counts once.
    assert bonus.accelerated_points(D("150"), D("100"), []) == D("150")
    # Below target the accelerators do not apply.
    tiers = [bonus.AcceleratorTier(D("100"), D("1.5"))]
    assert bonus.accelerated_points(D("80"), D("100"), tiers) == D("80")
    assert bonus.accelerated_points(D("130"), D("100"), tiers) == D("145")
