"""Demand trends over a grid of series (segment x category x measure), seasonality kept apart.

Two tests per series, all p-values of the grid corrected together (Benjamini-Hochberg):

- ``seasonal_kendall``: the seasonal Mann-Kendall test (Hirsch, Slack & Smith 1982, via
  ``pymannkendall``) compares each season only with itself (January with January), so a
  back-to-school peak is not a trend; Sen's seasonal slope gives the size per period.
- ``level_shift``: Pettitt's change-point test (Pettitt 1979) on the series minus its seasonal
  means (each season's mean over the series), for sudden changes of level that a monotonic test
  sees late; its approximate p-value is ``2 exp(-6 K^2 / (n^3 + n^2))``.

A series is tested only with at least ``min_cycles`` full seasonal cycles (two years of months, or
104 weeks); shorter ones are ``insufficient_data`` and stay out of the correction. A test is
flagged when its adjusted p-value is under ``fdr`` *and* the change is material: at least
``min_relative_change`` of the series' mean level per seasonal cycle (slope x period) or as a step.
Sensitivity is tuned with ``fdr`` (more or fewer false discoveries) and ``min_relative_change``
(ignore statistically clear but commercially tiny changes).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymannkendall as mk
from statsmodels.stats.multitest import multipletests

Method = Literal["seasonal_kendall", "level_shift"]
Direction = Literal["emerging", "declining", "stable", "insufficient_data"]
METHODS: tuple[Method, ...] = ("seasonal_kendall", "level_shift")


@dataclass(frozen=True)
class TrendTest:
    key: Hashable
    method: Method
    direction: Direction
    statistic: float | None
    sen_slope: float | None
    p_value: float | None
    adjusted_p_value: float | None
    relative_change: float | None
    change_index: int | None = None  # level shift: index of the first period after the change

    @property
    def flagged(self) -> bool:
        return self.direction in ("emerging", "declining")


@dataclass(frozen=True)
class _Raw:
    key: Hashable
    method: Method
    statistic: float
    slope: float
    p: float
    relative_change: float
    change_index: int | None


def pettitt(values: Sequence[float]) -> tuple[float, float, int]:
    """Pettitt's K, its approximate p-value, and the index of the first value after the change."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    # U_t = sum over i <= t < j of sgn(y_j - y_i); U_t - U_(t-1) = sum over j of sgn(y_j - y_t).
    steps = np.sign(y[None, :] - y[:, None]).sum(axis=1)
    u = np.cumsum(steps)[:-1]
    t_best = int(np.argmax(np.abs(u)))
    k = float(abs(u[t_best]))
    p = min(1.0, 2.0 * math.exp(-6.0 * k * k / (n**3 + n**2)))
    return k, p, t_best + 1


def _level(y: np.ndarray) -> float:
    return max(float(np.mean(np.abs(y))), 1e-9)


def _seasonal_kendall(key: Hashable, y: np.ndarray, period: int) -> _Raw:
    if np.all(y == y[0]):
        return _Raw(key, "seasonal_kendall", 0.0, 0.0, 1.0, 0.0, None)
    result = mk.seasonal_test(y, period=period)
    slope = float(result.slope)
    return _Raw(key, "seasonal_kendall", float(result.z), slope, float(result.p), abs(slope) * period / _level(y), None)


def _level_shift(key: Hashable, y: np.ndarray, period: int, slope: float) -> _Raw:
    seasons = np.arange(y.size) % period
    means = np.array([y[seasons == s].mean() for s in range(period)])
    residual = y - means[seasons]
    if np.allclose(residual, residual[0]):
        return _Raw(key, "level_shift", 0.0, slope, 1.0, 0.0, None)
    k, p, index = pettitt(residual)
    step = float(residual[index:].mean() - residual[:index].mean())
    # the signed step is kept in ``statistic``'s sign so the direction can be read from it
    return _Raw(key, "level_shift", math.copysign(k, step) if step else k, slope, p, abs(step) / _level(y), index)


def detect(
    grid: Mapping[Hashable, Sequence[float]],
    *,
    period: int,
    fdr: float = 0.05,
    min_cycles: int = 2,
    min_relative_change: float = 0.05,
    methods: Sequence[Method] = METHODS,
) -> list[TrendTest]:
    """Every series' tests, with Benjamini-Hochberg adjusted p-values over the whole grid."""
    raws: list[_Raw] = []
    short: list[TrendTest] = []
    for key, values in grid.items():
        y = np.asarray(values, dtype=np.float64)
        if y.size < min_cycles * period:
            short += [TrendTest(key, m, "insufficient_data", None, None, None, None, None) for m in methods]
            continue
        sk = _seasonal_kendall(key, y, period)
        if "seasonal_kendall" in methods:
            raws.append(sk)
        if "level_shift" in methods:
            raws.append(_level_shift(key, y, period, sk.slope))
    if not raws:
        return short
    _reject, adjusted, _, _ = multipletests([r.p for r in raws], alpha=fdr, method="fdr_bh")
    tests: list[TrendTest] = []
    for raw, adj in zip(raws, adjusted, strict=True):
        material = raw.relative_change >= min_relative_change
        direction: Direction = "stable"
        if adj < fdr and material:
            direction = "emerging" if raw.statistic > 0 else "declining"
        tests.append(
            TrendTest(
                raw.key,
                raw.method,
                direction,
                raw.statistic,
                raw.slope,
                raw.p,
                float(adj),
                raw.relative_change,
                raw.change_index,
            )
        )
    return tests + short
