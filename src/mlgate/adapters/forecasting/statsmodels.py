"""statsmodels time-series results (``mlflow.statsmodels`` flavor) as a Forecaster.

- State-space results (``MLEResults``: SARIMAX, ARIMA, UnobservedComponents, statespace
  ExponentialSmoothing): ``get_forecast(h)``; ``predicted_mean`` is the point forecast and
  ``conf_int(alpha=1 - level)`` the interval at each level. With a caller's history,
  ``results.apply(endog=history)`` first: the fitted parameters, filtered over the history alone.
- ``ETSResults`` (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``):
  ``get_prediction(start=nobs, end=nobs+h-1)`` and ``pred_int(alpha)``; exact intervals for
  additive models, simulated (seed ``SEED``) otherwise. Own data only.
- ``HoltWintersResults`` (``statsmodels.tsa.holtwinters.ExponentialSmoothing``): ``forecast(h)``
  and quantiles of ``simulate(h, repetitions=1000, anchor="end", rng=…)``. Own data only.

With ``exog`` (state-space results fitted with regressors), the caller sends the future rows
(``forecasting_future.py``): each exogenous column (a ``ds`` column may come along, unused);
``get_forecast(len(future), exog=rows)`` and ``conf_int`` at any level. Own data only.

The flavor stores a pickle; it is loaded only after mlgate verified the version's digest (as
for pickled scikit-learn models, see ``adapters/sklearn.py``).
"""

from __future__ import annotations

import inspect
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
from mlgate.adapters.forecasting.future import TIME_COLUMNS, FutureForm, check_future
from mlgate.domain import Feature, Interval
from mlgate.errors import InvalidInput

SIMULATIONS = 1000


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # runs code: the loader calls this only for an admitted plan
) -> Any:
    """The loader's adapter for the ``statsmodels`` flavor: a Forecaster for time-series results; any
    other results object (OLS, GLM …) through MLflow's pyfunc as a Predictor, as before."""
    forecaster = load_statsmodels(model_dir, flavor_conf)
    if forecaster is not None:
        return forecaster
    from mlgate.adapters.pyfunc import PyfuncModel, load_pyfunc

    return PyfuncModel(load_pyfunc(model_dir), list(features))


def load_statsmodels(model_dir: Path, flavor_conf: dict[str, Any]) -> StatsmodelsForecaster | None:
    import statsmodels.iolib.api as smio

    results = smio.load_pickle(str(model_dir / str(flavor_conf.get("data", "model.statsmodels"))))
    kind = results_kind(results)
    return None if kind is None else StatsmodelsForecaster(results, kind)


def results_kind(results: Any) -> str | None:
    """``state_space``, ``ets``, ``holt_winters``, or None for results that do not forecast (OLS, GLM …)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSResults
    from statsmodels.tsa.holtwinters import HoltWintersResults
    from statsmodels.tsa.statespace.mlemodel import MLEResults

    inner = getattr(results, "_results", results)  # the ResultsWrapper statsmodels hands out
    if isinstance(inner, MLEResults):
        return "state_space"
    if isinstance(inner, ETSResults):
        return "ets"
    if isinstance(inner, HoltWintersResults):
        return "holt_winters"
    return None


class StatsmodelsForecaster(FutureForm):
    flavor = "statsmodels"
    interfaces: tuple[str, ...] = ("forecaster",)
    features: tuple[Feature, ...] = ()

    def __init__(self, results: Any, kind: str) -> None:
        self.results = results
        self.kind = kind
        model = results.model
        self.exog = int(getattr(model, "k_exog", 0) or 0)
        season = getattr(model, "seasonal_periods", None) or 0
        burn = int(getattr(results, "loglikelihood_burn", 0) or 0)
        # a caller's history must cover two seasons and the filter's diffuse burn-in
        self.min_history = max(3, 2 * int(season), burn + 2)
        self.takes_history = kind == "state_space" and not self.exog
        self.form = "future" if self.exog and kind == "state_space" else "horizon"
        self.future_columns = tuple(str(n) for n in (getattr(model, "exog_names", None) or [])[: self.exog])
        self.optional_columns = TIME_COLUMNS

    def forecast_future(
        self, future: list[dict[str, Any]], levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        import numpy as np

        frame = check_future(future, self.future_columns, None, self.optional_columns)
        fc = self.results.get_forecast(len(frame), exog=frame.to_numpy(dtype=np.float64))
        return self._bands(fc, self.check_future_levels(levels))

    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        h = check_horizon(horizon)
        lv = check_levels(levels)
        hist = check_history(history)
        if self.exog:
            raise InvalidInput(
                f"this model needs future values of its regressor(s) {list(self.future_columns)}: "
                "a horizon alone cannot give them",
                f"pass future: one record per step with {list(self.future_columns)}",
            )
        if self.kind == "state_space":
            return self._state_space(hist, h, lv)
        if hist:
            raise refuse_history("statsmodels ETS / Holt-Winters model")
        if self.kind == "ets":
            return self._ets(h, lv)
        return self._holt_winters(h, lv)

    def _state_space(self, hist: list[float], h: int, lv: list[float]) -> tuple[list[float], list[Interval]]:
        import numpy as np

        res = self.results
        if hist:
            if len(hist) < self.min_history:
                raise InvalidInput(
                    f"history has {len(hist)} values but this model needs at least {self.min_history} "
                    "(two seasons and the filter's burn-in)",
                    f"send at least {self.min_history} values, oldest first, or no history to forecast "
                    "from the model's own data",
                )
            res = res.apply(endog=np.asarray(hist, dtype=np.float64))
        return self._bands(res.get_forecast(h), lv)

    def _bands(self, fc: Any, lv: list[float]) -> tuple[list[float], list[Interval]]:
        import numpy as np

        (point,) = finite_rows("statsmodels", np.asarray(fc.predicted_mean, dtype=np.float64))
        bands: list[Interval] = []
        for level in lv:
            ci = np.asarray(fc.conf_int(alpha=1.0 - level), dtype=np.float64)
            lower, upper = finite_rows("statsmodels", ci[:, 0], ci[:, 1])
            bands.append((level, lower, upper))
        return point, bands

    def _ets(self, h: int, lv: list[float]) -> tuple[list[float], list[Interval]]:
        import numpy as np

        res = self.results
        n = int(res.nobs)
        pred = res.get_prediction(start=n, end=n + h - 1, **_seed_kwargs(res.simulate))
        (point,) = finite_rows("statsmodels", np.asarray(pred.predicted_mean, dtype=np.float64))
        bands: list[Interval] = []
        for level in lv:
            ci = np.asarray(pred.pred_int(alpha=1.0 - level), dtype=np.float64)
            lower, upper = finite_rows("statsmodels", ci[:, 0], ci[:, 1])
            bands.append((level, lower, upper))
        return point, bands

    def _holt_winters(self, h: int, lv: list[float]) -> tuple[list[float], list[Interval]]:
        import numpy as np

        res = self.results
        (point,) = finite_rows("statsmodels", np.asarray(res.forecast(h), dtype=np.float64))
        bands: list[Interval] = []
        if lv:
            sims = np.asarray(
                res.simulate(h, anchor="end", repetitions=SIMULATIONS, **_seed_kwargs(res.simulate)),
                dtype=np.float64,
            ).reshape(h, -1)
            for level in lv:
                lo, hi = np.quantile(sims, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=1)
                lower, upper = finite_rows("statsmodels", lo, hi)
                bands.append((level, lower, upper))
        return point, bands


def _seed_kwargs(simulate: Any) -> dict[str, Any]:
    """A fixed seed for statsmodels' simulations (``rng=`` in 0.15, ``random_state=`` before)."""
    import numpy as np

    names = inspect.signature(simulate).parameters
    if "rng" in names:
        return {"rng": np.random.default_rng(SEED)}
    if "random_state" in names:
        return {"random_state": SEED}
    return {}
