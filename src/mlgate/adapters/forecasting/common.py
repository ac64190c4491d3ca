"""Forecasters from real libraries, as logged by plain MLflow code (see docs/forecasting.md).

Three kinds of registered versions answer ``ml_forecast``:

- ``statsmodels``: a results object logged with ``mlflow.statsmodels.log_model``. State-space
  results (SARIMAX, ARIMA, UnobservedComponents, statespace ExponentialSmoothing) forecast from
  the end of their own data when no history is sent, and from the caller's history when it is:
  ``results.apply(endog=history)`` keeps the fitted parameters and re-runs the filter on the
  history alone (no refit). ETS (``ETSModel``) and Holt-Winters results forecast from their own
  data only (``forecasting_statsmodels.py``).
- ``prophet``: a model logged with ``mlflow.prophet.log_model``, from its own data only
  (``forecasting_prophet.py``).
- ``pyfunc``: a custom ``mlflow.pyfunc`` model following mlgate's convention
  (``forecasting_pyfunc.py``).

``forecaster_kind`` reads only the MLmodel file; ``dispatch.load_forecaster`` loads the artifact and
returns ``None`` when the version turns out not to be a forecaster (a statsmodels OLS, say).
Libraries are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from mlgate.adapters.flavors import loaded_flavor
from mlgate.errors import InvalidInput
from mlgate.numbers import finite, shown

MAX_HORIZON = 1000
MAX_LEVELS = 5
SEED = 0  # simulated intervals (ETS, Holt-Winters, Prophet) are drawn with this seed: same call, same answer


def forecaster_kind(mlmodel: dict[str, Any]) -> str | None:
    """Which forecasting adapter would serve this MLmodel (``statsmodels``, ``prophet``, ``pyfunc``), or None.

    Reads nothing but the MLmodel dictionary. ``statsmodels`` is a candidate only: a regression
    results object is not a forecaster, which ``load_forecaster`` finds out.
    """
    flavor = loaded_flavor(
        mlmodel.get("flavors") or {}
    )  # the flavor the loader loads, not another listed one
    if flavor in ("statsmodels", "prophet"):
        return flavor
    if flavor == "python_function" and declares_forecast(mlmodel):
        return "pyfunc"
    return None


def declares_forecast(mlmodel: dict[str, Any]) -> bool:
    """A pyfunc declares itself a forecaster by a ``horizon`` parameter or a ``yhat`` output in its
    signature, or by ``metadata: {mlgate: {interfaces: [forecaster]}}``."""
    meta = (mlmodel.get("metadata") or {}).get("mlgate") or {}
    if "forecaster" in (meta.get("interfaces") or []):
        return True
    sig = mlmodel.get("signature") or {}
    return "horizon" in _names(sig.get("params")) or "yhat" in _names(sig.get("outputs"))


def _names(spec: Any) -> set[str]:
    try:
        cols = json.loads(spec) if isinstance(spec, str) else spec
        return {str(c.get("name")) for c in cols or [] if isinstance(c, dict)}
    except (ValueError, TypeError, AttributeError):
        return set()


def check_horizon(horizon: Any) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= MAX_HORIZON:
        raise InvalidInput(
            f"horizon {horizon!r} is not a whole number of steps in 1..{MAX_HORIZON}",
            f"ask for between 1 and {MAX_HORIZON} future steps",
        )
    return int(horizon)


def check_levels(levels: Sequence[float]) -> list[float]:
    """Interval levels as coverage fractions: each strictly inside (0, 1), distinct, at most MAX_LEVELS."""
    if isinstance(levels, str | bytes) or not isinstance(levels, Sequence):
        raise InvalidInput("levels must be a list of numbers", "pass coverage levels such as [0.8, 0.95]")
    if len(levels) > MAX_LEVELS:
        raise InvalidInput(
            f"{len(levels)} levels were asked for, more than the limit of {MAX_LEVELS}",
            f"ask for at most {MAX_LEVELS} levels, e.g. [0.8, 0.95]",
        )
    out: list[float] = []
    for v in levels:
        if isinstance(v, bool) or not isinstance(v, int | float) or not (finite(v) and 0.0 < v < 1.0):
            raise InvalidInput(
                f"level {shown(v)} is not a number strictly between 0 and 1",
                "give coverage as a fraction, e.g. 0.95 rather than 95",
            )
        if float(v) in out:
            raise InvalidInput(f"level {v} is listed twice", "list each coverage level once")
        out.append(float(v))
    return out


def check_history(history: Sequence[float] | None) -> list[float]:
    """The caller's history as floats; empty means 'forecast from the model's own data'."""
    if history is None:
        return []
    values: list[float] = []
    for i, v in enumerate(history):
        if isinstance(v, bool) or not isinstance(v, int | float) or not finite(v):
            raise InvalidInput(
                f"history[{i}] is {shown(v)}, not a finite number", "send finite JSON numbers, oldest first"
            )
        values.append(float(v))
    return values


def refuse_history(what: str) -> InvalidInput:
    return InvalidInput(
        f"history was sent, but this {what} forecasts from the data it was fitted on and cannot take a caller's history",
        "call ml_forecast with the horizon alone (no history), or register a state-space model "
        "(SARIMAX, statespace ExponentialSmoothing) or a pyfunc that reads the history",
    )


def finite_rows(what: str, *arrays: Any) -> list[list[float]]:
    """Each array as a list of floats; a NaN or infinity from the library is the model's failure, not the caller's."""
    from mlgate.errors import BackendError

    out: list[list[float]] = []
    for arr in arrays:
        values = [float(v) for v in arr]
        if not all(math.isfinite(v) for v in values):
            raise BackendError(
                f"the {what} model returned non-finite values", "check the model; refit it if needed"
            )
        out.append(values)
    return out
