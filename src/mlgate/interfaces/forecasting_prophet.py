"""Prophet models (``mlflow.prophet`` flavor, stored as Prophet's own JSON: no pickle) as a Forecaster.

The horizon alone: future dates continue the model's own training dates at their frequency
(``pandas.infer_freq`` of the history's ``ds``, else the median step). The point forecast is
``yhat``. Prophet has one ``interval_width`` per predict; mlgate draws the posterior predictive
samples once (``predictive_samples``, global NumPy seed ``SEED``, the caller's RNG state restored
afterwards) and takes, for each level, the same percentiles ``predict`` takes with
``interval_width=level``. So each interval equals Prophet's own ``predict`` under that seed.

Out of scope (refused with a clear error): a caller's history (Prophet cannot condition on new
data without a refit), extra regressors and conditional seasonalities (they need future
columns), logistic growth (it needs a future ``cap``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.errors import InvalidInput
from mlgate.interfaces.base import Feature, Interval
from mlgate.interfaces.forecasting import (
    SEED,
    check_history,
    check_horizon,
    check_levels,
    finite_rows,
    refuse_history,
)

_RNG_LOCK = threading.Lock()  # Prophet samples from NumPy's global RNG


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # the loader's seam (FlavorLoader); this format runs no code of its own
) -> ProphetForecaster:
    """The loader's adapter for the ``prophet`` flavor."""
    return load_prophet(model_dir, flavor_conf)


def load_prophet(model_dir: Path, flavor_conf: dict[str, Any]) -> ProphetForecaster:
    import json

    from prophet.serialize import model_from_json

    # mlflow.prophet stores Prophet's model_to_json string, JSON-encoded once more
    stored = json.loads((model_dir / str(flavor_conf.get("data", "model.pr"))).read_text())
    return ProphetForecaster(model_from_json(stored))


def future_frequency(ds: Any) -> Any:
    """The step between the model's training dates: an inferred pandas frequency, else the median gap."""
    import warnings

    import pandas as pd

    dates = pd.DatetimeIndex(ds).sort_values()
    if len(dates) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(dates)
        if freq is not None:
            return freq
    return pd.Series(dates).diff().median()


class ProphetForecaster:
    flavor = "prophet"
    interfaces: tuple[str, ...] = ("forecaster",)
    features: tuple[Feature, ...] = ()
    takes_history = False

    def __init__(self, model: Any) -> None:
        self.model = model
        self.freq = future_frequency(model.history["ds"])
        conditional = [n for n, s in (model.seasonalities or {}).items() if s.get("condition_name")]
        self.unsupported = (
            f"extra regressors {sorted(model.extra_regressors)}"
            if model.extra_regressors
            else f"conditional seasonalities {conditional}"
            if conditional
            else "logistic growth (a future cap)"
            if model.growth == "logistic"
            else ""
        )

    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        h = check_horizon(horizon)
        lv = check_levels(levels)
        if check_history(history):
            raise refuse_history("Prophet model")
        if self.unsupported:
            raise InvalidInput(
                f"this Prophet model needs future values for {self.unsupported}, "
                "which ml_forecast does not take",
                "register a Prophet model without them, or a pyfunc that builds the future frame",
            )
        m = self.model
        if lv and not m.uncertainty_samples:
            raise InvalidInput(
                "this Prophet model was saved with uncertainty_samples=0: it has no intervals",
                "ask with levels: [] for the point forecast alone",
            )
        future = m.make_future_dataframe(periods=h, freq=self.freq, include_history=False)
        with _RNG_LOCK:  # the model object is shared: uncertainty_samples is switched off for the point
            yhat = _seeded_samples(m, future) if lv else None
            (point,) = finite_rows("Prophet", _point(m, future))
        bands: list[Interval] = []
        for level in lv:
            lo = m.percentile(yhat, 100 * (1.0 - level) / 2, axis=1)
            hi = m.percentile(yhat, 100 * (1.0 + level) / 2, axis=1)
            lower, upper = finite_rows("Prophet", lo, hi)
            bands.append((level, lower, upper))
        return point, bands


def _point(m: Any, future: Any) -> Any:
    """``yhat`` alone: predict without the sampling pass (the point forecast draws nothing)."""
    saved = m.uncertainty_samples
    m.uncertainty_samples = 0
    try:
        return m.predict(future)["yhat"].to_numpy()
    finally:
        m.uncertainty_samples = saved


def _seeded_samples(m: Any, future: Any) -> Any:
    """Posterior predictive ``yhat`` samples (steps x draws) under seed SEED; the global RNG state is restored."""
    import numpy as np

    state = np.random.get_state()
    try:
        np.random.seed(SEED)
        return m.predictive_samples(future)["yhat"]
    finally:
        np.random.set_state(state)
