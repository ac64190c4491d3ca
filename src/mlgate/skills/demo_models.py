"""Demo models the built-in ``regime_aware_alpha`` skill runs; registered by ``mlgate demo``.

Synthetic, seeded market data (no downloads):

- ``demo-regime`` (Classifier): the market regime, ``bull`` or ``bear``, from the market's
  trailing 20-day return and annualised volatility.
- ``demo-alpha-bull`` / ``demo-alpha-bear`` (Predictors): next-month excess return of a stock
  from its ``momentum``, ``value`` and ``quality`` scores (z-scores). In the bull regime momentum
  pays; in the bear regime value and quality do and momentum reverses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

REGIME_FEATURES = ["market_return_20d", "market_volatility_20d"]
ALPHA_FEATURES = ["momentum", "value", "quality"]
# regime → true factor loadings of next-month excess return (momentum, value, quality)
LOADINGS = {"bull": (0.020, 0.004, 0.002), "bear": (-0.012, 0.010, 0.016)}
BULL_MARKET = {"market_return_20d": 0.035, "market_volatility_20d": 0.11}
BEAR_MARKET = {"market_return_20d": -0.05, "market_volatility_20d": 0.31}
STOCKS = [{"momentum": 1.2, "value": -0.4, "quality": 0.3}, {"momentum": -0.8, "value": 1.1, "quality": 0.9}]


def regime_data(n: int = 600, seed: int = 7) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    bull = rng.random(n) < 0.6
    ret = np.where(bull, rng.normal(0.03, 0.025, n), rng.normal(-0.04, 0.03, n))
    vol = np.where(bull, rng.normal(0.13, 0.03, n), rng.normal(0.27, 0.06, n)).clip(0.03, None)
    return np.column_stack([ret, vol]), np.where(bull, "bull", "bear")


def alpha_data(regime: str, n: int = 800, seed: int = 11) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed + (0 if regime == "bull" else 1))
    x = rng.normal(0.0, 1.0, (n, len(ALPHA_FEATURES)))
    y = x @ np.asarray(LOADINGS[regime]) + rng.normal(0.0, 0.01, n)
    return x, y


def build_regime(reg: Any) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = regime_data()
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(xtr, ytr)
    reg.register_sklearn(
        "demo-regime",
        est,
        xtr,
        REGIME_FEATURES,
        {"accuracy": float(accuracy_score(yte, est.predict(xte)))},
        alias="production",
        description="Market regime (bull / bear) from trailing 20-day return and volatility.",
        extra_meta={"classes": [str(c) for c in est.classes_]},
    )


def _build_alpha(reg: Any, regime: str) -> None:
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    x, y = alpha_data(regime)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0)
    est = Ridge(alpha=1.0).fit(xtr, ytr)
    pred = est.predict(xte)
    metrics = {"r2": float(r2_score(yte, pred)), "mae": float(mean_absolute_error(yte, pred))}
    reg.register_sklearn(
        f"demo-alpha-{regime}",
        est,
        xtr,
        ALPHA_FEATURES,
        metrics,
        alias="production",
        description=f"Next-month excess return of a stock in a {regime} market "
        "from its momentum, value and quality scores.",
    )


def build_alpha_bull(reg: Any) -> None:
    _build_alpha(reg, "bull")


def build_alpha_bear(reg: Any) -> None:
    _build_alpha(reg, "bear")


BUILDERS: dict[str, Callable[[Any], None]] = {
    "demo-regime": build_regime,
    "demo-alpha-bull": build_alpha_bull,
    "demo-alpha-bear": build_alpha_bear,
}
