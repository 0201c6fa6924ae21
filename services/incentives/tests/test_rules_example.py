"""The arithmetic against one month worked out by hand (no I/O).

The company: Asia/Jakarta (UTC+7), period 2026-03.

Employees: Ayu (A, hired 2024-01-10), Budi (B, hired 2023-05-01), Citra (C, hired 2025-02-01).

Products and weights (weight in force when the order is paid):
  P1 paper    1.0 (neutral, never set)
  P2 printer  1.5 from 2026-03-01, then 2.0 from 2026-03-16 (a mid-month change); locomotive
  P3 toner    0.5 from 2026-03-01

Orders (net amounts in IDR):
  O1  A  paid 2026-03-05  P1 1,000,000.00 x1.0 = 1,000,000.00 pts
                          P2 2,000,000.00 x1.5 = 3,000,000.00 pts (locomotive)
  O2  A  paid 2026-03-20  P2 2,000,000.00 x2.0 = 4,000,000.00 pts (locomotive; after the change)
  O3  B  paid 2026-03-10  P3 3,000,000.00 x0.5 = 1,500,000.00 pts
                          P1 2,500,000.00 x1.0 = 2,500,000.00 pts
  O4  B  paid 2026-03-12  P2 1,000,000.00 x1.5 = 1,500,000.00 pts (locomotive)
         cancelled 2026-03-14:               -1,000,000.00 net, -1,500,000.00 pts
  O5  C  paid 2026-02-28T17:30Z = 1 March 00:30 in Jakarta, so March (not February):
                          P1 1,200,000.00 x1.0 = 1,200,000.00 pts
                          P2   800,000.00 x1.5 = 1,200,000.00 pts (locomotive)
  R1  A  returns half of O1's P2 on 2026-04-03: -1,000,000.00 net x1.5 (the weight O1 was paid
         with, not today's 2.0) = -1,500,000.00 pts, in APRIL (clawback; March is not rewritten)
  O6  C  paid 2026-03-30, its event arrives after March is closed:
                          P3   400,000.00 x0.5 = 200,000.00 pts, counted in April as an adjustment

March:            net sales      points        locomotive sales
  A               5,000,000.00   8,000,000.00  4,000,000.00
  B               5,500,000.00   4,000,000.00          0.00
  C               2,000,000.00   2,400,000.00    800,000.00
  company                       14,400,000.00
April:  A -1,000,000.00 net / -1,500,000.00 pts; C +400,000.00 / +200,000.00 pts (adjustment of March)

Plan March: company 12,000,000 pts; A 6,000,000 (133.33 %), B 4,000,000 (100.00 %), C 3,000,000 (80.00 %)
Share of the company plan: A 66.67 %, B 33.33 %, C 20.00 %

Bonus policy v1: rate 0.01 per point; minimum fulfilment 90 %; accelerators x1.5 above 100 %,
x2.0 above 120 %; quality: -10 % per complaint, -5 % per SLA breach, +-10 % per CSAT point
around 4.00, bounded to [50 %, 110 %]; cap 80,000.00.

Quality: A 1 complaint, ratings 5, 5, 4 (avg 4.67): q = 1 - 0.10 + 0.67 x 0.10 = 0.967
         B 1 SLA breach, rating 4: q = 1 - 0.05 = 0.95;  C nothing: q = 1

A: accelerated = 6,000,000 + 1,200,000 x 1.5 + 800,000 x 2 = 9,400,000; gross 94,000.00;
   x 0.967 = 90,898.00; capped at 80,000.00
B: 100 % (>= 90 %): accelerated 4,000,000; gross 40,000.00; x 0.95 = 38,000.00
C: 80 % < 90 %: no bonus
Leaderboard: A, B, C; best employee: A.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.incentives.rules import bonus, contribution, leaderboard
from services.incentives.rules.contribution import Line, WeightInForce
from services.incentives.rules.money import percent, round_cents
from services.incentives.rules.periods import Period, day_starts_at

JAKARTA = ZoneInfo("Asia/Jakarta")
MARCH, APRIL = Period(2026, 3), Period(2026, 4)
D = Decimal


def at(text: str) -> datetime:
    """A wall-clock time in Jakarta (or an explicit UTC instant ending in Z)."""
    if text.endswith("Z"):
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA)


WEIGHTS = {
    "P2": [WeightInForce(D("1.5"), True, day_starts_at(date(2026, 3, 1), JAKARTA)),
           WeightInForce(D("2.0"), True, day_starts_at(date(2026, 3, 16), JAKARTA))],
    "P3": [WeightInForce(D("0.5"), False, day_starts_at(date(2026, 3, 1), JAKARTA))],
}


def weights(product_id: str, when: datetime) -> WeightInForce:
    return contribution.weight_at(WEIGHTS.get(product_id, []), when)


def sale(employee: str, order: str, paid: str, *lines: tuple[str, str]) -> list[contribution.Movement]:
    return contribution.sale_movements(
        employee_id=employee, order_id=order, paid_at=at(paid), weights=weights, zone=JAKARTA,
        lines=[Line(line_no=i, product_id=p, category="cat-" + p, net=D(net), quantity=2)
               for i, (p, net) in enumerate(lines, start=1)])


def march_movements() -> list[contribution.Movement]:
    o4_lines = [Line(line_no=1, product_id="P2", category="cat-P2", net=D("1000000.00"), quantity=1)]
    return [
        *sale("A", "O1", "2026-03-05T10:00", ("P1", "1000000.00"), ("P2", "2000000.00")),
        *sale("A", "O2", "2026-03-20T11:00", ("P2", "2000000.00")),
        *sale("B", "O3", "2026-03-10T09:00", ("P3", "3000000.00"), ("P1", "2500000.00")),
        *contribution.sale_movements(employee_id="B", order_id="O4", paid_at=at("2026-03-12T15:00"),
                                     lines=o4_lines, weights=weights, zone=JAKARTA),
        *contribution.cancellation_movements(employee_id="B", order_id="O4", cancelled_at=at("2026-03-14T08:00"),
                                             order_paid_at=at("2026-03-12T15:00"), lines=o4_lines,
                                             weights=weights, zone=JAKARTA),
        *sale("C", "O5", "2026-02-28T17:30:00Z", ("P1", "1200000.00"), ("P2", "800000.00")),
    ]


def april_return() -> list[contribution.Movement]:
    return contribution.return_movements(
        employee_id="A", order_id="O1", return_id="R1", returned_at=at("2026-04-03T10:00"),
        order_paid_at=at("2026-03-05T10:00"), weights=weights, zone=JAKARTA,
        lines=[Line(line_no=2, product_id="P2", category="cat-P2", net=D("1000000.00"))])


def late_sale() -> list[contribution.Movement]:
    return sale("C", "O6", "2026-03-30T14:00", ("P3", "400000.00"))


def test_the_march_figures() -> None:
    totals = contribution.fold(march_movements())
    a, b, c = totals[("A", MARCH)], totals[("B", MARCH)], totals[("C", MARCH)]
    assert (a.net_sales, a.points, a.locomotive_sales) == (D("5000000.00"), D("8000000.00"), D("4000000.00"))
    assert (b.net_sales, b.points, b.locomotive_sales) == (D("5500000.00"), D("4000000.00"), D("0.00"))
    assert (c.net_sales, c.points, c.locomotive_sales) == (D("2000000.00"), D("2400000.00"), D("800000.00"))
    assert set(totals) == {("A", MARCH), ("B", MARCH), ("C", MARCH)}  # O5 is March in Jakarta, not February
    assert a.points + b.points + c.points == D("14400000.00")
    # The weight change on the 16th applies to O2 only: O1's printer counted 1.5, O2's 2.0.
    printer_lines = [m for m in march_movements() if m.product_id == "P2" and m.employee_id == "A"]
    assert [(m.order_id, m.weight, m.points) for m in printer_lines] == [
        ("O1", D("1.5"), D("3000000.00")), ("O2", D("2.0"), D("4000000.00"))]


def test_a_return_next_month_is_a_negative_line_in_april_at_the_sale_weight() -> None:
    (line,) = april_return()
    assert (line.kind, line.net, line.weight, line.points, line.natural_period) == (
        "return", D("-1000000.00"), D("1.5"), D("-1500000.00"), APRIL)
    totals = contribution.fold([*march_movements(), *april_return()])
    assert totals[("A", MARCH)].points == D("8000000.00")  # March is not rewritten
    assert totals[("A", APRIL)].points == D("-1500000.00")
    assert totals[("A", APRIL)].net_sales == D("-1000000.00")
    assert totals[("A", APRIL)].locomotive_sales == D("-1000000.00")


def test_a_credit_note_given_as_a_positive_amount_still_claws_back_and_never_pays_twice() -> None:
    """OCA/commission #55/#555: credit notes settled as positive lines paid agents twice.

    Whatever sign the producer gives the returned amount, the return is one negative line; the
    same return delivered again (or with its amounts negated) is still one line.
    """
    positive = april_return()
    negated = contribution.return_movements(
        employee_id="A", order_id="O1", return_id="R1", returned_at=at("2026-04-03T10:00"),
        order_paid_at=at("2026-03-05T10:00"), weights=weights, zone=JAKARTA,
        lines=[Line(line_no=2, product_id="P2", category="cat-P2", net=D("-1000000.00"))])
    assert positive == negated
    assert all(m.net < 0 and m.points < 0 for m in positive + negated)
    totals = contribution.fold([*march_movements(), *positive, *negated, *positive])
    # March + April for A: 8,000,000 - 1,500,000 once, never + 1,500,000, never - 3,000,000.
    assert totals[("A", MARCH)].points + totals[("A", APRIL)].points == D("6500000.00")


def test_a_cancellation_of_a_paid_order_is_never_skipped_and_takes_back_only_what_returns_left() -> None:
    cancelled = contribution.fold(march_movements())[("B", MARCH)]
    assert cancelled.points == D("4000000.00")  # O4's 1,500,000 came and went
    partly_returned = Line(line_no=1, product_id="P1", category="c", net=D("100.00"), quantity=3,
                           returned_quantity=1)
    # 100.00 - round(100.00 x 1/3) = 100.00 - 33.33 = 66.67
    assert contribution.remaining_after_returns(partly_returned) == D("66.67")
    (line,) = contribution.cancellation_movements(
        employee_id="B", order_id="O9", cancelled_at=at("2026-03-20T10:00"), order_paid_at=at("2026-03-18T10:00"),
        lines=[partly_returned], weights=weights, zone=JAKARTA)
    assert (line.net, line.points) == (D("-66.67"), D("-66.67"))


def test_a_late_sale_for_a_closed_period_counts_in_the_next_open_period_as_an_adjustment() -> None:
    before_close = contribution.fold([*march_movements(), *april_return()])
    # March is closed; then O6's paid event arrives.
    late = contribution.fold(late_sale(), closed=lambda period: period == MARCH)
    assert set(late) == {("C", APRIL)}
    c_april = late[("C", APRIL)]
    assert (c_april.net_sales, c_april.points, c_april.adjustment_points) == (
        D("400000.00"), D("200000.00"), D("200000.00"))
    assert before_close[("C", MARCH)].points == D("2400000.00")  # the frozen figure stays
    assert contribution.counting_period(MARCH, lambda p: p in {MARCH, APRIL}) == Period(2026, 5)
    # Without the close the same sale is simply March.
    assert contribution.fold(late_sale())[("C", MARCH)].adjustment_points == D("0")


POLICY = bonus.BonusPolicy(
    version=1, rate_per_point=D("0.01"), min_fulfilment_percent=D("90"),
    accelerators=(bonus.AcceleratorTier(D("100"), D("1.5")), bonus.AcceleratorTier(D("120"), D("2.0"))),
    quality=bonus.QualityRule(complaint_penalty_percent=D("10"), breach_penalty_percent=D("5"),
                              csat_neutral=D("4"), csat_step_percent=D("10"), floor_percent=D("50"),
                              ceiling_percent=D("110")),
    cap=D("80000.00"))
TARGETS = {"A": D("6000000"), "B": D("4000000"), "C": D("3000000")}
QUALITY = {"A": bonus.QualityMeasures(complaints=1, csat_sum=14, ratings=3),
           "B": bonus.QualityMeasures(breaches=1, csat_sum=4, ratings=1),
           "C": bonus.QualityMeasures()}


def march_bonus(employee: str) -> bonus.BonusResult:
    points = contribution.fold(march_movements())[(employee, MARCH)].points
    return bonus.compute_bonus(points=points, target=TARGETS[employee], measures=QUALITY[employee], policy=POLICY)


def test_fulfilment_and_share_of_the_company_plan() -> None:
    totals = contribution.fold(march_movements())
    company = D("12000000")
    shown = {e: (round_cents(percent(totals[(e, MARCH)].points, TARGETS[e])),
                 round_cents(percent(totals[(e, MARCH)].points, company))) for e in "ABC"}
    assert shown == {"A": (D("133.33"), D("66.67")), "B": (D("100.00"), D("33.33")), "C": (D("80.00"), D("20.00"))}
    assert percent(D("5"), None) is None and percent(D("5"), D("0")) is None


def test_bonus_with_accelerators_quality_multiplier_and_cap() -> None:
    a = march_bonus("A")
    assert QUALITY["A"].csat_average == D("4.67")
    assert a.accelerated_points == D("9400000")
    assert a.gross == D("94000.00")
    assert a.quality_multiplier == D("0.967")
    assert a.uncapped == D("90898.00")
    assert (a.capped, a.bonus) == (True, D("80000.00"))

    b = march_bonus("B")
    assert (b.eligible, b.accelerated_points, b.quality_multiplier, b.capped, b.bonus) == (
        True, D("4000000"), D("0.95"), False, D("38000.00"))

    c = march_bonus("C")
    assert (c.eligible, c.bonus) == (False, D("0"))
    assert "minimum" in (c.reason or "")


def test_the_quality_multiplier_is_bounded() -> None:
    awful = bonus.QualityMeasures(complaints=20, breaches=20, csat_sum=10, ratings=10)
    superb = bonus.QualityMeasures(csat_sum=50, ratings=10)
    assert bonus.quality_multiplier(awful, POLICY.quality) == D("0.5")
    assert bonus.quality_multiplier(superb, POLICY.quality) == D("1.1")


def test_no_bonus_without_a_target_or_positive_points() -> None:
    none = bonus.compute_bonus(points=D("100"), target=None, measures=bonus.QualityMeasures(), policy=POLICY)
    negative = bonus.compute_bonus(points=D("-100"), target=D("50"), measures=bonus.QualityMeasures(), policy=POLICY)
    assert (none.bonus, negative.bonus) == (D("0"), D("0"))
    assert not none.eligible and not negative.eligible


def test_the_march_leaderboard_and_winner() -> None:
    totals = contribution.fold(march_movements())
    hired = {"A": date(2024, 1, 10), "B": date(2023, 5, 1), "C": date(2025, 2, 1)}
    standings = [leaderboard.Standing(employee_id=e, points=totals[(e, MARCH)].points,
                                      complaints=QUALITY[e].complaints, csat=QUALITY[e].csat_average,
                                      hired_on=hired[e], eligible=march_bonus(e).eligible) for e in "CBA"]
    ranked = leaderboard.rank(standings)
    assert [(r.rank, r.standing.employee_id, r.decided_by) for r in ranked] == [
        (1, "A", None), (2, "B", "weighted_points"), (3, "C", "weighted_points")]
    best = leaderboard.winner(ranked)
    assert best is not None and best.standing.employee_id == "A"
