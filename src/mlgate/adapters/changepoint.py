"""Mean-shift change points with ruptures: ``KernelCPD(kernel="linear")`` (the l2 cost, PELT in C).

A ruptures detector has no fitted state beyond its settings, so the registered model is those
settings as JSON (mlgate's ``mlgate`` flavor, kind ``ruptures``: no pickle, no code in the
artifact): ``{"penalty": beta, "min_size": m}``. On a series of ``n`` points the penalty handed
to ruptures is ``beta * sigma^2 * log(n)``, ``sigma`` the noise estimated robustly from first
differences, so one ``beta`` serves series of any scale. ``fit_segmenter`` picks ``beta`` by
breakpoint F1 on synthetic series. Parameters of the former ``binseg_mean`` kind
(``{penalty, min_size}``) have the same meaning and are served the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlgate.errors import InvalidInput
from mlgate.numbers import finite, shown

METHOD = "ruptures"
MAX_POINTS = 20_000  # PELT is quadratic in the worst case: ~0.5 s at this length
MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): makes the MAD a consistent sd estimate
PENALTY_GRID = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
DEMO_MIN_SIZE = 10


def _check_params(params: Mapping[str, Any]) -> tuple[float, int]:
    if not isinstance(params, Mapping) or "penalty" not in params or "min_size" not in params:
        raise InvalidInput(
            "model parameters need 'penalty' and 'min_size'", "use parameters produced by fit_segmenter"
        )
    penalty, min_size = params["penalty"], params["min_size"]
    if (
        isinstance(penalty, bool)
        or not isinstance(penalty, int | float)
        or not (finite(penalty) and penalty > 0)
    ):
        raise InvalidInput(
            f"penalty must be a positive finite number, got {shown(penalty)}",
            "use a penalty such as 2.0; larger values find fewer change points",
        )
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise InvalidInput(
            f"min_size must be a positive integer, got {min_size!r}",
            "use the shortest segment length you care about, e.g. 10",
        )
    return float(penalty), min_size


def _as_series(series: Sequence[float], min_size: int) -> NDArray[np.float64]:
    try:
        x = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("series must be a list of numbers", "send a flat JSON array of numbers") from exc
    if x.ndim != 1:
        raise InvalidInput(
            f"series must be one-dimensional, got shape {list(x.shape)}",
            "send a flat JSON array of numbers, in time order",
        )
    if x.size > MAX_POINTS:
        raise InvalidInput(
            f"series has {x.size} points, more than the limit of {MAX_POINTS}",
            f"split the series into windows of at most {MAX_POINTS} points",
        )
    if x.size < 2 * min_size:
        raise InvalidInput(
            f"series has {x.size} points but needs at least {2 * min_size} (2 x min_size {min_size})",
            f"send at least {2 * min_size} points",
        )
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InvalidInput(
            f"series contains {bad.size} non-finite value(s) (NaN or infinity), first at index {int(bad[0])}",
            "fill or drop the missing values before sending the series",
        )
    return x


def robust_sigma(x: NDArray[np.float64]) -> float:
    """Noise sd from the MAD of first differences; falls back to their sd, then the series sd, at 0."""
    d = np.diff(x)
    if d.size == 0:
        return 0.0
    sigma = MAD_TO_SD * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)
    if sigma == 0.0:
        sigma = float(np.std(d)) / math.sqrt(2.0)
    if sigma == 0.0:  # constant steps (a straight line): treat the whole spread as noise
        sigma = float(np.std(x))
    return sigma


def segment_series(
    params: Mapping[str, Any], series: Sequence[float]
) -> tuple[list[int], list[tuple[int, int, float]]]:
    """Breakpoints (start indices of new segments, ascending, excluding 0) and (start, end, mean) segments."""
    import ruptures as rpt

    penalty, m = _check_params(params)
    x = _as_series(series, m)
    n = x.size
    breaks: list[int] = []
    sigma = robust_sigma(x)
    if sigma > 0.0:
        algo = rpt.KernelCPD(kernel="linear", min_size=m).fit(x - float(np.mean(x)))
        breaks = [int(b) for b in algo.predict(pen=penalty * sigma**2 * math.log(n))[:-1]]
    edges = [0, *breaks, n]
    segments = [(a, b, float(np.mean(x[a:b]))) for a, b in itertools.pairwise(edges)]
    return breaks, segments


def _synthetic(
    rng: np.random.Generator, n: int, n_breaks: int, min_gap: int
) -> tuple[NDArray[np.float64], list[int]]:
    """A piecewise-constant series with Gaussian noise and n_breaks shifts at least min_gap apart."""
    n_breaks = min(n_breaks, n // min_gap - 1)
    slack = n - (n_breaks + 1) * min_gap
    lengths = min_gap + rng.multinomial(slack, np.full(n_breaks + 1, 1.0 / (n_breaks + 1)))
    cand = np.cumsum(lengths)[:-1]
    sd = float(rng.uniform(0.5, 2.0))
    edges = [0, *cand.tolist(), n]
    level = float(rng.normal(0.0, 5.0))
    x = np.empty(n)
    for a, b in itertools.pairwise(edges):
        x[a:b] = level
        level += float(rng.choice([-1.0, 1.0]) * rng.uniform(0.75, 3.0) * sd)
    return x + rng.normal(0.0, sd, n), [int(c) for c in cand]


def _counts(found: Sequence[int], true: Sequence[int], tol: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives), matching each true break at most once."""
    unmatched = list(true)
    tp = 0
    for f in found:
        near = [t for t in unmatched if abs(t - f) <= tol]
        if near:
            unmatched.remove(min(near, key=lambda t: abs(t - f)))
            tp += 1
    return tp, len(found) - tp, len(unmatched)


def _scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def _evaluate(
    penalty: float, data: Sequence[tuple[NDArray[np.float64], list[int]]], m: int
) -> dict[str, float]:
    tp = fp = fn = 0
    params = {"penalty": penalty, "min_size": m}
    for x, true in data:
        found, _ = segment_series(params, x.tolist())
        a, b, c = _counts(found, true, m)
        tp, fp, fn = tp + a, fp + b, fn + c
    return _scores(tp, fp, fn)


def _dataset(rng: np.random.Generator, count: int, m: int) -> list[tuple[NDArray[np.float64], list[int]]]:
    return [
        _synthetic(rng, int(rng.integers(150, 401)), int(rng.integers(0, 5)), 3 * m) for _ in range(count)
    ]


def fit_segmenter(seed: int = 0) -> dict[str, Any]:
    """Pick the penalty maximising breakpoint F1 on synthetic series; report F1 on fresh ones."""
    rng = np.random.default_rng(seed)
    m = DEMO_MIN_SIZE
    train, test = _dataset(rng, 40, m), _dataset(rng, 40, m)
    best = max(PENALTY_GRID, key=lambda p: (_evaluate(p, train, m)["f1"], p))  # ties: the larger penalty
    return {
        "method": METHOD,
        "search": "pelt",
        "kernel": "linear",
        "penalty": best,
        "min_size": m,
        "metrics": _evaluate(best, test, m),
    }


def make_demo_series(seed: int = 1) -> tuple[list[float], list[int]]:
    """300 noisy points with level shifts at 80, 150 and 230; returns (series, true breakpoints)."""
    rng = np.random.default_rng(seed)
    true = [80, 150, 230]
    levels = [10.0, 13.0, 11.0, 15.0]
    x = np.empty(300)
    for (a, b), level in zip(itertools.pairwise([0, *true, 300]), levels, strict=True):
        x[a:b] = level
    x += rng.normal(0.0, 1.0, 300)
    return [round(float(v), 3) for v in x], true
