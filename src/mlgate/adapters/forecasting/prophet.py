"""Prophet models (``mlflow.prophet`` flavor, stored as Prophet's own JSON: no pickle) as a Forecaster.

The horizon alone: future dates continue the model's own training dates at their frequency
(``pandas.infer_freq`` of the history's ``ds``, else the median step). The point forecast is
``yhat``. Prophet has one ``interval_width`` per predict; mlgate draws the posterior predictive
samples once (``predictive_samples``, global NumPy seed ``SEED``, the caller's RNG state restored
afterwards) and takes, for each level, the same percentiles ``predict`` takes with
``interval_width=level``. So each interval equals Prophet's own ``predict`` under that seed.

With ``future`` (``forecasting_future.py``): a model with extra regressors, conditional seasonalities or
logistic growth takes the future rows itself (``ds``, each regressor, each condition, ``cap`` and ``floor``),
one point per row; any level, computed the same way. A caller's history is refused (Prophet cannot
condition on new data without a refit).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.adapters.forecasting.common import (
    SEED,
    check_history,
    check_horizon,
    check_levels,
    finite_rows,
    refuse_history,
)
from mlgate.adapters.forecasting.future import FutureForm, check_future
from mlgate.domain import Feature, Interval
from mlgate.errors import InvalidInput

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


class ProphetForecaster(FutureForm):
    flavor = "prophet"
    interfaces: tuple[str, ...] = ("forecaster",)
    features: tuple[Feature, ...] = ()
    takes_history = False

    def __init__(self, model: Any) -> None:
        self.model = model
        self.freq = future_frequency(model.history["ds"])
        self.conditions = sorted(
            {
                str(s["condition_name"])
                for s in (model.seasonalities or {}).values()
                if s.get("condition_name")
            }
        )
        growth = ["cap", *(["floor"] if model.logistic_floor else [])] if model.growth == "logistic" else []
        extra = [*sorted(model.extra_regressors), *self.conditions, *growth]
        self.form = "future" if extra else "horizon"
        self.time_column = "ds"
        self.future_columns = ("ds", *extra)

    def next_dates(self, n: int) -> list[str]:
        future = self.model.make_future_dataframe(periods=n, freq=self.freq, include_history=False)
        return [str(d.date()) for d in future["ds"]]

    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        h = check_horizon(horizon)
        lv = check_levels(levels)
        if check_history(history):
            raise refuse_history("Prophet model")
        if self.form == "future":
            raise InvalidInput(
                f"this Prophet model needs future values of {list(self.future_columns[1:])}: a horizon alone "
                "cannot give them",
                f"pass future: one record per step with {list(self.future_columns)}",
            )
        m = self.model
        return self._answer(m.make_future_dataframe(periods=h, freq=self.freq, include_history=False), lv)

    def forecast_future(
        self, future: list[dict[str, Any]], levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        frame = check_future(future, self.future_columns, "ds")
        for c in self.conditions:
            frame[c] = frame[c].astype(bool)
        return self._answer(frame, self.check_future_levels(levels))

    def _answer(self, future: Any, lv: list[float]) -> tuple[list[float], list[Interval]]:
        m = self.model
        if lv and not m.uncertainty_samples:
            raise InvalidInput(
                "this Prophet model was saved with uncertainty_samples=0: it has no intervals",
                "ask with levels: [] for the point forecast alone",
            )
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
