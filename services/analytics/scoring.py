"""The detection job's pure computation: RFM, CLV and demand trends from a snapshot of the read models.

No I/O: the job loads a ``Snapshot``, runs ``compute`` in a worker thread (scipy fits must not hold
the event loop) and writes the ``Outcome``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from services.analytics.stats import clv, rfm, trends
from services.analytics.stats.periods import GRANULARITIES, SEASON_LENGTH, Granularity, period_range, previous_complete

WEEKS_IN_12_MONTHS = 365.25 / 7
MEASURES = ("quantity", "net_revenue")


@dataclass(frozen=True)
class Purchase:
    account_id: str
    day: date
    value: int  # minor units, net of returns


@dataclass(frozen=True)
class DemandCell:
    granularity: str
    segment: str
    category: str
    period: str
    quantity: int
    net: int


@dataclass
class Snapshot:
    today: date
    purchases: list[Purchase]
    demand: list[DemandCell]
    fdr: float = 0.05
    min_relative_change: float = 0.05


@dataclass(frozen=True)
class Score:
    customer_id: str
    recency_days: int
    frequency: int
    monetary: int
    r: int
    f: int
    m: int
    group: str
    repeat_purchases: int
    p_alive: float | None
    expected_purchases_12m: float | None
    expected_order_value: int | None
    predicted_value_12m: int | None
    historical_value: int


@dataclass(frozen=True)
class Trend:
    segment: str
    category: str
    granularity: Granularity
    measure: str
    test: trends.TrendTest
    series_start: str | None
    series_end: str | None
    change_period: str | None


@dataclass
class Outcome:
    scores: list[Score] = field(default_factory=list)
    model: dict[str, float] | None = None
    trends: list[Trend] = field(default_factory=list)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def score_customers(snapshot: Snapshot) -> tuple[list[Score], dict[str, float] | None]:
    by_account: dict[str, list[tuple[float, float]]] = defaultdict(list)
    origin = date(1970, 1, 1)
    for p in snapshot.purchases:
        by_account[p.account_id].append((float((p.day - origin).days), float(p.value)))
    if not by_account:
        return [], None
    today = float((snapshot.today - origin).days)
    ids, summary = clv.summarise(by_account, as_of_day=today)
    totals = {a: sum(v for _, v in items) for a, items in by_account.items()}
    last_day = {a: max(d for d, _ in items) for a, items in by_account.items()}
    recency = [today - last_day[a] for a in ids]
    frequency = [float(x + 1) for x in summary.x]
    monetary = [totals[a] for a in ids]
    rfm_scores = rfm.score(recency, frequency, monetary)

    model: dict[str, float] | None = None
    alive = expected = average = None
    try:
        bg = clv.fit_bgnbd(summary.x, summary.t_x, summary.T)
        alive = clv.p_alive(bg, summary.x, summary.t_x, summary.T)
        expected = clv.expected_purchases(bg, WEEKS_IN_12_MONTHS, summary.x, summary.t_x, summary.T)
        model = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b}
        repeat_values = summary.mean_repeat_value
        try:
            gg = clv.fit_gamma_gamma(summary.x, repeat_values)
            positive = repeat_values[(summary.x > 0) & (repeat_values > 0)]
            average = clv.expected_average_value(
                gg,
                summary.x,
                np.maximum(repeat_values, 1e-9),
                population_mean=float(positive.mean()) if positive.size else None,
            )
            model.update(p=gg.p, q=gg.q, gamma=gg.gamma)
        except clv.FitError:
            average = None
    except clv.FitError:
        pass

    scores = []
    for i, account in enumerate(ids):
        s = rfm_scores[i]
        p = _finite(alive[i]) if alive is not None else None
        e = _finite(expected[i]) if expected is not None else None
        v = _finite(average[i]) if average is not None else None
        scores.append(
            Score(
                customer_id=account,
                recency_days=int(recency[i]),
                frequency=int(frequency[i]),
                monetary=int(monetary[i]),
                r=s.recency,
                f=s.frequency,
                m=s.monetary,
                group=s.group,
                repeat_purchases=int(summary.x[i]),
                p_alive=p,
                expected_purchases_12m=e,
                expected_order_value=round(v) if v is not None else None,
                predicted_value_12m=round(e * v) if e is not None and v is not None else None,
                historical_value=int(totals[account]),
            )
        )
    return scores, model


def detect_trends(snapshot: Snapshot) -> list[Trend]:
    out: list[Trend] = []
    for granularity in GRANULARITIES:
        cells = [c for c in snapshot.demand if c.granularity == granularity and c.segment]
        if not cells:
            continue
        first = min(c.period for c in cells)  # zero-padded labels sort in time order
        last = previous_complete(snapshot.today, granularity)
        axis = period_range(first, last)
        if not axis:
            continue
        position = {p: i for i, p in enumerate(axis)}
        grid: dict[tuple[str, str, str], np.ndarray] = {}
        for c in cells:
            if c.period not in position:
                continue  # the current, incomplete period
            for measure, value in (("quantity", c.quantity), ("net_revenue", c.net / 100)):
                series = grid.setdefault((c.segment, c.category, measure), np.zeros(len(axis)))
                series[position[c.period]] += value
        results = trends.detect(
            grid, period=SEASON_LENGTH[granularity], fdr=snapshot.fdr, min_relative_change=snapshot.min_relative_change
        )
        for test in results:
            segment, category, measure = test.key  # type: ignore[misc]
            change = axis[test.change_index] if test.change_index is not None else None
            out.append(Trend(segment, category, granularity, measure, test, axis[0], axis[-1], change))
    return out


def compute(snapshot: Snapshot) -> Outcome:
    scores, model = score_customers(snapshot)
    return Outcome(scores=scores, model=model, trends=detect_trends(snapshot))
