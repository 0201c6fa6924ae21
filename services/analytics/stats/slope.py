"""Slope and direction of one short monthly series (is a partnership becoming more or less profitable?).

The slope is the ordinary least-squares slope per month; the direction needs a Mann-Kendall test
(no seasonality assumed: a customer's series is short) significant at ``alpha``: ``improving``,
``worsening``, else ``stable``; fewer than ``min_points`` months is ``insufficient_data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymannkendall as mk

Direction = Literal["improving", "worsening", "stable", "insufficient_data"]


@dataclass(frozen=True)
class SeriesTrend:
    slope_per_month: float
    direction: Direction
    p_value: float | None
    points: int


def trend_of(values: Sequence[float], *, alpha: float = 0.05, min_points: int = 4) -> SeriesTrend:
    y = np.asarray(values, dtype=np.float64)
    if y.size < min_points:
        slope = float(np.polyfit(np.arange(y.size), y, 1)[0]) if y.size >= 2 else 0.0
        return SeriesTrend(slope, "insufficient_data", None, int(y.size))
    slope = float(np.polyfit(np.arange(y.size), y, 1)[0])
    if np.all(y == y[0]):
        return SeriesTrend(0.0, "stable", 1.0, int(y.size))
    p = float(mk.original_test(y).p)
    direction: Direction = "stable"
    if p < alpha:
        direction = "improving" if slope > 0 else "worsening"
    return SeriesTrend(slope, direction, p, int(y.size))
