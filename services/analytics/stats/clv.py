"""Customer lifetime value: BG/NBD for the number of future purchases, Gamma-Gamma for their value.

A small implementation of the published models (the ``lifetimes`` package is unmaintained):

- BG/NBD, Fader, Hardie & Lee (2005), "Counting your customers the easy way". While alive, a
  customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha); after each purchase the
  customer drops out with probability p ~ Beta(a, b). Per customer the data are ``x`` (repeat
  purchases: distinct purchase periods after the first), ``t_x`` (time of the last purchase since the
  first) and ``T`` (time since the first purchase), in one unit of time (weeks here).
- Gamma-Gamma, Fader, Hardie & Lee (2005), "RFM and CLV" (the spend model in the note "The Gamma-Gamma
  model of monetary value"): the values of a customer's purchases are Gamma(p, nu) with
  nu ~ Gamma(q, gamma); fitted on customers with ``x > 0`` and their mean repeat value ``m``.

Both are fitted by maximum likelihood (``scipy.optimize.minimize`` on log-parameters, so every
parameter stays positive), identical (x, t_x, T) rows weighted rather than repeated.
Predicted value of the next ``horizon`` = E[purchases in horizon] x E[value of a purchase]
(undiscounted: a one-year horizon makes discounting a second-order effect; say so where shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


class FitError(ValueError):
    """The data cannot support a fit (too few customers, no repeat buyers, or no convergence)."""


def _arrays(*values: ArrayLike) -> list[FloatArray]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _grouped(x: FloatArray, t_x: FloatArray, T: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Unique (x, t_x, T) rows and how often each occurs: the likelihood is evaluated once per row."""
    rows = np.column_stack([x, t_x, T])
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], counts.astype(np.float64)


# Log-parameters are kept in [-15, 15]: degenerate data (perfectly regular buyers, say) put the maximum
# on a boundary, where an unbounded search would wander for ever instead of stopping there.
LOG_BOUNDS = (-15.0, 15.0)


def _minimise(objective: Any, x0: FloatArray) -> Any:
    """Bounded quasi-Newton on log-parameters, then a short bounded simplex polish; the better answer."""
    bounds = [LOG_BOUNDS] * len(x0)
    first = minimize(objective, x0, method="L-BFGS-B", bounds=bounds)
    second = minimize(objective, first.x, method="Nelder-Mead", bounds=bounds,
                      options={"maxiter": 2_000, "xatol": 1e-8, "fatol": 1e-10})
    return second if second.fun <= first.fun else first


def bgnbd_log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """The log-likelihood of each customer (FHL 2005, equation 6, in logs for numerical safety)."""
    x_, t_, T_ = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_a1 = gammaln(r + x_) - gammaln(r) + r * np.log(alpha)
    log_a2 = gammaln(a + b) + gammaln(b + x_) - gammaln(b) - gammaln(a + b + x_)
    log_a3 = -(r + x_) * np.log(alpha + T_)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a4 = np.where(
            x_ > 0,
            np.log(a) - np.log(np.maximum(b + x_ - 1, 1e-300)) - (r + x_) * np.log(alpha + t_),
            -np.inf,
        )
    return log_a1 + log_a2 + np.logaddexp(log_a3, log_a4)


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, initial: BgNbdParams | None = None) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters."""
    x_, t_, T_ = _arrays(x, t_x, T)
    if x_.size < 10 or not np.any(x_ > 0):
        raise FitError("BG/NBD needs at least 10 customers, some of them with repeat purchases")
    if np.any((t_ < 0) | (t_ > T_) | (x_ < 0)) or np.any((x_ == 0) & (t_ != 0)):
        raise FitError("inconsistent data: need x >= 0, 0 <= t_x <= T, and t_x = 0 when x = 0")
    ux, ut, uT, weights = _grouped(x_, t_, T_)
    start = initial or BgNbdParams(r=1.0, alpha=max(float(np.mean(T_)), 1.0), a=1.0, b=1.0)

    def negative_ll(log_params: FloatArray) -> float:
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood(BgNbdParams(r, alpha, a, b), ux, ut, uT)
        value = -float(np.sum(weights * ll))
        return value if np.isfinite(value) else 1e300

    best = _minimise(negative_ll, np.log([start.r, start.alpha, start.a, start.b]))
    if not np.all(np.isfinite(best.x)) or best.fun >= 1e299:
        raise FitError("BG/NBD did not converge")
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b)


def expected_purchases(params: BgNbdParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[number of purchases in (T, T + t]] for each customer (FHL 2005, equation 10)."""
    x_, t_, T_ = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    first = (a + b + x_ - 1) / (a - 1)
    hyp = hyp2f1(r + x_, b + x_, a + b + x_ - 1, t / (alpha + T_ + t))
    second = 1 - hyp * ((alpha + T_) / (alpha + T_ + t)) ** (r + x_)
    return first * second / (1 + _dropout_odds(params, x_, t_, T_))


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(the customer is still active | x, t_x, T) (FHL 2005, appendix): 1 for customers without repeats."""
    x_, t_, T_ = _arrays(x, t_x, T)
    return 1.0 / (1.0 + _dropout_odds(params, x_, t_, T_))


def _dropout_odds(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (a / np.maximum(b + x - 1, 1e-300)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return np.where(x > 0, odds, 0.0)


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> FloatArray:
    """Log-likelihood of each customer's mean repeat value ``m`` over ``x`` repeat purchases."""
    x_, m_ = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    return (
        gammaln(p * x_ + q)
        - gammaln(p * x_)
        - gammaln(q)
        + q * np.log(g)
        + (p * x_ - 1) * np.log(m_)
        + p * x_ * np.log(x_)
        - (p * x_ + q) * np.log(g + m_ * x_)
    )


def fit_gamma_gamma(x: ArrayLike, m: ArrayLike) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers (``x > 0``, ``m > 0``)."""
    x_, m_ = _arrays(x, m)
    keep = (x_ > 0) & (m_ > 0)
    x_, m_ = x_[keep], m_[keep]
    if x_.size < 10:
        raise FitError("Gamma-Gamma needs at least 10 repeat buyers with a positive spend")

    def negative_ll(log_params: FloatArray) -> float:
        p, q, g = np.exp(log_params)
        value = -float(np.sum(gamma_gamma_log_likelihood(GammaGammaParams(p, q, g), x_, m_)))
        return value if np.isfinite(value) else 1e300

    best = _minimise(negative_ll, np.log([1.0, 1.0, max(float(np.mean(m_)), 1.0)]))
    if not np.all(np.isfinite(best.x)) or best.fun >= 1e299:
        raise FitError("Gamma-Gamma did not converge")
    p, q, g = (float(v) for v in np.exp(best.x))
    return GammaGammaParams(p=p, q=q, gamma=g)


def expected_average_value(
    params: GammaGammaParams, x: ArrayLike, m: ArrayLike, population_mean: float | None = None
) -> FloatArray:
    """E[value of a purchase | x, m]: the customer's mean shrunk towards the population's.

    For customers without repeat purchases (x = 0) the population mean ``p gamma / (q - 1)`` is used
    (or ``population_mean`` when q <= 1, where the model's mean does not exist).
    """
    x_, m_ = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    prior = p * g / (q - 1) if q > 1 else (population_mean if population_mean is not None else float("nan"))
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = (g + m_ * x_) * p / (p * x_ + q - 1)
    return np.where(x_ > 0, conditional, prior)


@dataclass(frozen=True)
class Backtest:
    """Calibration fit scored on a holdout period: totals and the per-customer mean absolute error."""

    params: BgNbdParams
    customers: int
    actual_total: float
    predicted_total: float
    mae: float

    @property
    def total_error_percent(self) -> float:
        return 100.0 * (self.predicted_total - self.actual_total) / self.actual_total if self.actual_total else 0.0


def backtest(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    holdout_actual: ArrayLike,
    holdout_length: float,
    params: BgNbdParams | None = None,
) -> Backtest:
    """Fit on the calibration data (or use ``params``) and compare predicted holdout purchases with the actual."""
    params = params or fit_bgnbd(x, t_x, T)
    predicted = expected_purchases(params, holdout_length, x, t_x, T)
    actual = np.asarray(holdout_actual, dtype=np.float64)
    return Backtest(
        params=params,
        customers=int(actual.size),
        actual_total=float(actual.sum()),
        predicted_total=float(predicted.sum()),
        mae=float(np.mean(np.abs(predicted - actual))),
    )


@dataclass(frozen=True)
class Summary:
    """Per-customer BG/NBD inputs built from purchase instants (in days since an origin)."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    mean_repeat_value: FloatArray


def summarise(
    purchases: dict[str, list[tuple[float, float]]], *, as_of_day: float, unit_days: float = 7.0
) -> tuple[list[str], Summary]:
    """Per customer (in ``purchases``' order) x, t_x, T in units of ``unit_days`` and the mean repeat value.

    ``purchases`` maps a customer to (day, value) pairs; purchases on one day are one transaction
    (their values added), as in the published CDNOW analyses. The first transaction is not a repeat.
    """
    ids: list[str] = []
    xs: list[float] = []
    txs: list[float] = []
    Ts: list[float] = []
    ms: list[float] = []
    for customer, items in purchases.items():
        by_day: dict[float, float] = {}
        for day, value in items:
            by_day[day] = by_day.get(day, 0.0) + value
        days = sorted(d for d in by_day if d <= as_of_day)
        if not days:
            continue
        first = days[0]
        repeats = days[1:]
        ids.append(customer)
        xs.append(float(len(repeats)))
        txs.append((days[-1] - first) / unit_days if repeats else 0.0)
        Ts.append((as_of_day - first) / unit_days)
        ms.append(float(np.mean([by_day[d] for d in repeats])) if repeats else 0.0)
    return ids, Summary(x=np.asarray(xs), t_x=np.asarray(txs), T=np.asarray(Ts), mean_repeat_value=np.asarray(ms))


def simulate_bgnbd(params: BgNbdParams, T: ArrayLike, *, seed: int) -> tuple[FloatArray, FloatArray]:
    """Draw (x, t_x) for customers observed for ``T`` from the BG/NBD process (for tests and backtests)."""
    rng = np.random.default_rng(seed)
    T_ = np.asarray(T, dtype=np.float64)
    xs = np.zeros_like(T_)
    txs = np.zeros_like(T_)
    lambdas = rng.gamma(params.r, 1.0 / params.alpha, size=T_.size)
    ps = rng.beta(params.a, params.b, size=T_.size)
    for i, (lam, p, horizon) in enumerate(zip(lambdas, ps, T_, strict=True)):
        now = 0.0
        while True:
            now += rng.exponential(1.0 / lam)
            if now > horizon:
                break
            xs[i] += 1
            txs[i] = now
            if rng.random() < p:
                break
    return xs, txs
