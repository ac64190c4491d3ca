"""A seasonal-trend forecaster with prediction intervals, in pure numpy.

The model is ordinary least squares on ``y_t = a + b*t + s[t mod period] + e_t`` (one level per
seasonal phase plus a common linear trend).  It is solved exactly in O(n) by demeaning within
each phase, so no n-by-period design matrix is ever built.  The prediction variance of a future
point at time ``t0`` and phase ``k`` is the textbook OLS one,
``sigma^2 * (1 + 1/n_k + (t0 - tbar_k)^2 / Sxx)``: intervals widen as the horizon grows because
the trend is extrapolated further from the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlgate.errors import InvalidInput

METHOD = "seasonal_trend"
MAX_POINTS = 100_000
MAX_HORIZON = 1000
MAX_LEVELS = 5

_Fit = tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, float]


def normal_ppf(p: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, one Halley refinement)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must lie strictly between 0 and 1")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549671010173025e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    p_low = 0.02425
    if p < p_low or p > 1.0 - p_low:
        q = math.sqrt(-2.0 * math.log(p if p < p_low else 1.0 - p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
        )
        x = x if p < p_low else -x
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
            ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0
        )
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


def _check_period(period: Any) -> int:
    if isinstance(period, bool) or not isinstance(period, int | np.integer):
        raise InvalidInput(
            f"period must be an integer, got {type(period).__name__}",
            "pass the season length as a whole number of steps, e.g. 12 for monthly data",
        )
    if period < 2:
        raise InvalidInput(f"period must be at least 2, got {period}", "use the season length in steps, e.g. 7 or 12")
    return int(period)


def _as_series(values: Sequence[float], name: str, period: int, min_periods: int) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be a list of numbers", "send a flat JSON array of numbers") from exc
    if arr.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional, got shape {list(arr.shape)}",
                           "send a flat JSON array of numbers, oldest first")
    if arr.size > MAX_POINTS:
        raise InvalidInput(f"{name} has {arr.size} points, more than the limit of {MAX_POINTS}",
                           f"send only the most recent {MAX_POINTS} points")
    need = min_periods * period
    if arr.size < need:
        raise InvalidInput(
            f"{name} has {arr.size} points but needs at least {need} ({min_periods} x period {period})",
            f"send at least {need} points, oldest first, or use a shorter period",
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InvalidInput(f"{name} contains {bad.size} non-finite value(s) (NaN or infinity), first at index "
                           f"{int(bad[0])}", "fill or drop the missing values before sending the series")
    return arr


def _fit(y: NDArray[np.float64], period: int) -> _Fit:
    """Exact OLS of y on a common trend and one intercept per phase.

    Returns (slope, intercept per phase, mean time per phase, count per phase, Sxx, sigma).
    """
    n = y.size
    t = np.arange(n, dtype=np.float64)
    phase = np.arange(n) % period
    counts = np.bincount(phase, minlength=period).astype(np.float64)
    tbar = np.bincount(phase, weights=t, minlength=period) / counts
    ybar = np.bincount(phase, weights=y, minlength=period) / counts
    tc = t - tbar[phase]
    yc = y - ybar[phase]
    sxx = float(tc @ tc)
    slope = float(tc @ yc) / sxx
    intercepts = ybar - slope * tbar
    resid = y - (intercepts[phase] + slope * t)
    dof = n - period - 1
    sigma = math.sqrt(float(resid @ resid) / dof)
    return slope, intercepts, tbar, counts, sxx, sigma


def _predict(fit: _Fit, n: int, period: int, horizon: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Point forecast and predictive standard deviation for steps 1..horizon after n points."""
    slope, intercepts, tbar, counts, sxx, sigma = fit
    t0 = np.arange(n, n + horizon, dtype=np.float64)
    k = np.arange(n, n + horizon) % period
    point = intercepts[k] + slope * t0
    sd = sigma * np.sqrt(1.0 + 1.0 / counts[k] + (t0 - tbar[k]) ** 2 / sxx)
    return point, sd


def _check_levels(levels: Sequence[float]) -> list[float]:
    try:
        vals = [float(v) for v in levels]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("levels must be a list of numbers", "pass coverage levels such as [0.8, 0.95]") from exc
    if len(vals) > MAX_LEVELS:
        raise InvalidInput(f"{len(vals)} levels were asked for, more than the limit of {MAX_LEVELS}",
                           f"ask for at most {MAX_LEVELS} levels, e.g. [0.8, 0.95]")
    for v in vals:
        if not (math.isfinite(v) and 0.0 < v < 1.0):
            raise InvalidInput(f"level {v} is not strictly between 0 and 1",
                               "give coverage as a fraction, e.g. 0.95 rather than 95")
    if len(set(vals)) != len(vals):
        raise InvalidInput(f"levels contain duplicates: {vals}", "list each coverage level once")
    return vals


def _check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise InvalidInput(f"horizon must be an integer, got {type(horizon).__name__}",
                           "pass the number of future steps as a whole number")
    if not 1 <= horizon <= MAX_HORIZON:
        raise InvalidInput(f"horizon {horizon} is outside 1..{MAX_HORIZON}",
                           f"ask for between 1 and {MAX_HORIZON} future steps")
    return int(horizon)


def _intervals(point: NDArray[np.float64], sd: NDArray[np.float64], level: float) -> tuple[list[float], list[float]]:
    half = normal_ppf(0.5 + level / 2.0) * sd
    return (point - half).tolist(), (point + half).tolist()


def fit_seasonal(series: Sequence[float], period: int) -> dict[str, Any]:
    """Fit the seasonal-trend model and score it on a holdout of the last ``period`` points.

    Needs at least 3*period points: the holdout fit must itself see two full seasons.
    """
    p = _check_period(period)
    y = _as_series(series, "series", p, 3)
    n = y.size
    fit = _fit(y, p)
    train = y[: n - p]
    point, sd = _predict(_fit(train, p), train.size, p, p)
    actual = y[n - p :]
    err = actual - point
    metrics: dict[str, float] = {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2)))}
    for level, key in ((0.8, "coverage_80"), (0.95, "coverage_95")):
        half = normal_ppf(0.5 + level / 2.0) * sd
        metrics[key] = float(np.mean(np.abs(err) <= half))
    return {"method": METHOD, "period": p, "residual_std": fit[5], "trained_on": int(n), "metrics": metrics}


def forecast_seasonal(
    params: Mapping[str, Any], history: Sequence[float], horizon: int, levels: Sequence[float]
) -> tuple[list[float], list[tuple[float, list[float], list[float]]]]:
    """Re-fit on ``history`` with the stored period; return the point forecast and intervals."""
    if not isinstance(params, Mapping) or "period" not in params:
        raise InvalidInput("model parameters have no 'period'", "use parameters produced by fit_seasonal")
    if params.get("method", METHOD) != METHOD:
        raise InvalidInput(f"model parameters are for method {params.get('method')!r}, not {METHOD!r}",
                           "use parameters produced by fit_seasonal")
    p = _check_period(params["period"])
    h = _check_horizon(horizon)
    lv = _check_levels(levels)
    y = _as_series(history, "history", p, 2)
    point, sd = _predict(_fit(y, p), y.size, p, h)
    bands: list[tuple[float, list[float], list[float]]] = []
    for level in lv:
        lower, upper = _intervals(point, sd, level)
        bands.append((level, lower, upper))
    return point.tolist(), bands


def make_demo_series(n: int = 240, period: int = 12, seed: int = 0) -> list[float]:
    """A deterministic monthly-like series: level, upward trend, yearly cycle and Gaussian noise."""
    p = _check_period(period)
    if isinstance(n, bool) or not isinstance(n, int) or not 2 * p <= n <= MAX_POINTS:
        raise InvalidInput(f"n must be an integer in {2 * p}..{MAX_POINTS}, got {n!r}",
                           "ask for at least two full seasons of points")
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    angle = 2.0 * np.pi * t / p
    y = 100.0 + 0.4 * t + 12.0 * np.sin(angle) + 5.0 * np.cos(2.0 * angle) + rng.normal(0.0, 2.5, n)
    return [round(float(v), 3) for v in y]
