"""RFM scores and groups, a series' slope and direction, period labels: pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from services.analytics.stats import periods, rfm, slope

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_quintiles_of_ten_values_and_ties() -> None:
    assert rfm.quintiles(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.quintiles(list(range(10)), higher_is_better=False) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert rfm.quintiles([7, 7, 7, 7]) == [2, 2, 2, 2]  # equal customers are never split: their mean rank
    assert rfm.quintiles([1, 5, 5, 5, 5, 5, 5, 5, 5, 5]) == [1] + [3] * 9  # a crowd at the top scores above the bottom
    assert rfm.quintiles([]) == []


def test_every_cell_has_exactly_one_group() -> None:
    cells = {(r, fm): rfm.group_of(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert set(cells.values()) == set(rfm.GROUPS)
    assert cells[(5, 5)] == "champions" and cells[(3, 3)] == "loyal" and cells[(5, 1)] == "potential"
    assert cells[(1, 5)] == "at_risk" and cells[(2, 1)] == "hibernating" and cells[(1, 1)] == "lost"


def test_a_frequent_buyer_who_stopped_is_at_risk() -> None:
    # recency days, frequency, monetary for ten customers; the last one bought often but long ago
    scores = rfm.score(
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 400], [1, 1, 2, 2, 3, 3, 4, 4, 5, 30], [10, 10, 20, 20, 30, 30, 40, 40, 50, 900]
    )
    assert scores[-1].group == "at_risk"
    assert scores[0].recency == 5 and scores[0].group == "potential"


def test_slope_and_direction() -> None:
    rising = slope.trend_of([100, 120, 130, 150, 160, 185, 190, 210])
    assert rising.direction == "improving" and abs(rising.slope_per_month - 15.65) < 0.5
    assert slope.trend_of([210, 190, 185, 160, 150, 130, 120, 100]).direction == "worsening"
    noise = np.random.default_rng(1).normal(100, 5, 12)
    assert slope.trend_of(noise).direction == "stable"
    assert slope.trend_of([1, 2]).direction == "insufficient_data"
    assert slope.trend_of([5, 5, 5, 5]).direction == "stable"


def test_period_labels_follow_the_company_calendar() -> None:
    late_evening = datetime(2026, 1, 31, 17, 30, tzinfo=UTC)  # 00:30 on 1 February in Jakarta
    assert periods.labels(late_evening, JAKARTA) == {"month": "2026-02", "week": "2026-W05"}
    assert periods.label(late_evening, ZoneInfo("UTC"), "month") == "2026-01"
    assert periods.period_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert periods.period_range("2026-W52", "2027-W02")[0] == "2026-W52"
    assert len(periods.period_range("2026-W01", "2027-W52")) == 104 + 1  # 2026 has 53 ISO weeks
    assert periods.previous_complete(date(2026, 3, 15), "month") == "2026-02"
    assert periods.previous_complete(date(2026, 3, 15), "week") == "2026-W10"  # 15 March is a Sunday of W11
    assert periods.start_of("2026-W01") == date(2025, 12, 29)
