"""A custom ``mlflow.pyfunc`` forecaster following mlgate's convention (docs/forecasting.md).

mlgate calls ``model.predict(frame, params={"horizon": h, "levels": [0.8, 0.95]})``:

- ``frame`` has one column ``y``: the caller's history, oldest first (zero rows when the caller
  sent none: the model forecasts from its own data);
- ``params`` are MLflow inference parameters, so the signature must declare them
  (``infer_signature(frame, output, params={"horizon": 12, "levels": [0.8, 0.95]})``);
  ``levels`` are coverage fractions.

The output (a DataFrame, ``horizon`` rows) carries the point forecast in ``yhat`` (or in its one
column that is not an interval) and intervals either

- per level, statsforecast style: ``lo-80`` / ``hi-80`` (optionally prefixed, ``AutoETS-lo-80``)
  for level 0.8, ``lo-97.5`` for 0.975; or
- for one level: ``yhat_lower`` / ``yhat_upper``, meaning ``levels[0]``; mlgate then calls the
  model once per level, with ``levels=[level]``.

A pyfunc without a ``horizon`` parameter whose signature's inputs are the future itself (a time column
and regressors) is a future-frame forecaster (``forecasting_pyfunc_future.py``): it takes ``future``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mlgate.adapters.forecasting.common import check_history, check_horizon, check_levels, finite_rows
from mlgate.domain import Feature, Interval
from mlgate.errors import BackendError

_BOUND = re.compile(r"(?:^|-)(lo|hi)-(\d+(?:\.\d+)?)$")
_NOT_POINT = {"ds", "unique_id", "step", "yhat_lower", "yhat_upper"}


def label(level: float) -> str:
    """0.8 -> '80', 0.975 -> '97.5': the percent label of statsforecast-style columns."""
    return f"{round(level * 100, 6):g}"


class PyfuncForecaster:
    flavor = "pyfunc"
    form = "horizon"
    interfaces: tuple[str, ...] = ("forecaster",)
    features: tuple[Feature, ...] = ()
    takes_history = True

    def __init__(self, model: Any, *, takes_levels: bool) -> None:
        self.model = model
        self.takes_levels = takes_levels

    def _call(self, history: list[float], horizon: int, levels: list[float]) -> Any:
        import pandas as pd

        params: dict[str, Any] = {"horizon": horizon}
        if self.takes_levels:
            params["levels"] = levels
        out = self.model.predict(pd.DataFrame({"y": pd.Series(history, dtype="float64")}), params=params)
        frame = out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)
        if len(frame) != horizon:
            raise BackendError(
                f"the pyfunc forecaster returned {len(frame)} rows for a horizon of {horizon}",
                "return one row per future step (see docs/forecasting.md)",
            )
        return frame

    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        h = check_horizon(horizon)
        lv = check_levels(levels)
        hist = check_history(history)
        frame = self._call(hist, h, lv)
        (point,) = finite_rows("pyfunc", frame[_point_column(frame)])
        bounds = _bounds(frame)
        bands: list[Interval] = []
        for i, level in enumerate(lv):
            key = label(level)
            if key in bounds:
                lower, upper = finite_rows("pyfunc", frame[bounds[key][0]], frame[bounds[key][1]])
            elif {"yhat_lower", "yhat_upper"} <= set(frame.columns) and self.takes_levels:
                one = frame if i == 0 else self._call(hist, h, [level])
                lower, upper = finite_rows("pyfunc", one["yhat_lower"], one["yhat_upper"])
            else:
                raise BackendError(
                    f"the pyfunc forecaster returned no interval for level {level}",
                    f"return lo-{key}/hi-{key} columns, or yhat_lower/yhat_upper for levels[0] "
                    "with a 'levels' parameter in the signature",
                )
            bands.append((level, lower, upper))
        return point, bands


def _point_column(frame: Any) -> str:
    cols = [str(c) for c in frame.columns]
    if "yhat" in cols:
        return "yhat"
    rest = [c for c in cols if c not in _NOT_POINT and not _BOUND.search(c)]
    if len(rest) != 1:
        raise BackendError(
            f"cannot tell the point forecast among the columns {cols}",
            "name the point forecast column 'yhat'",
        )
    return rest[0]


def _bounds(frame: Any) -> dict[str, tuple[str, str]]:
    """{'80': ('lo-80', 'hi-80'), …} from statsforecast-style column names."""
    found: dict[tuple[str, str], str] = {}
    for c in map(str, frame.columns):
        m = _BOUND.search(c)
        if m:
            found[(m.group(1), f"{float(m.group(2)):g}")] = c
    return {
        k: (found[("lo", k)], found[("hi", k)]) for side, k in found if side == "lo" and ("hi", k) in found
    }
