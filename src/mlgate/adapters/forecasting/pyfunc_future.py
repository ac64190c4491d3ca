"""A ``mlflow.pyfunc`` forecaster whose input is the future itself: rows of a time column and regressors.

The shape Prophet and most team-written forecasters use: the signature's inputs name the columns of a
future row (a ``datetime`` column, or one named ``ds``/``date``/…, and the regressors), the outputs hold
the point forecast in ``yhat`` and the intervals in ``yhat_lower``/``yhat_upper`` or statsforecast-style
``lo-80``/``hi-80`` columns, one output row per input row. mlgate sends the caller's ``future`` records as
that frame (each column cast to its signature type). Which levels it gives is read from the signature:

- a parameter ``interval_width`` or ``level`` (a number): any level; mlgate calls once per level;
- a parameter ``levels`` (a list): any level, all in one call (``lo-XX``/``hi-XX``, or ``yhat_lower``/
  ``yhat_upper`` for ``levels[0]``, then once per further level);
- no such parameter: the ``lo-XX``/``hi-XX`` levels its outputs name; ``yhat_lower``/``yhat_upper`` alone
  carry no declared level, so such a model answers the point forecast only and refuses levels by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgate.adapters.forecasting.common import finite_rows
from mlgate.adapters.forecasting.future import TIME_COLUMNS, FutureForm, check_future
from mlgate.adapters.forecasting.pyfunc import _bounds, _point_column, label
from mlgate.domain import Feature, Interval
from mlgate.errors import BackendError

WIDTH_PARAMS = ("interval_width", "level")
CASTS = {"long": "int64", "integer": "int32", "float": "float32", "double": "float64", "boolean": "bool"}


def future_frame_forecaster(model: Any, params: set[str]) -> PyfuncFutureForecaster | None:
    """The forecaster when the signature's inputs are named columns other than a lone ``y``; else None."""
    return form_of(model.metadata.to_dict(), model)


def form_of(mlmodel: dict[str, Any], model: Any = None) -> PyfuncFutureForecaster | None:
    """From the MLmodel's signature alone (nothing loaded when ``model`` is None: ``ml_model_info`` reads the
    form of a pickled pyfunc before anyone admitted it): a future-frame forecaster, or None."""
    sig = mlmodel.get("signature") or {}
    params = {str(p.get("name")) for p in _spec(sig.get("params"))}
    inputs = _spec(sig.get("inputs"))
    types = {str(c["name"]): str(c.get("type", "double")) for c in inputs if c.get("name")}
    if "horizon" in params or not types or list(types) == ["y"] or len(types) != len(inputs):
        return None
    outputs = [str(c["name"]) for c in _spec(sig.get("outputs")) if c.get("name")]
    return PyfuncFutureForecaster(model, types, params, outputs)


def _spec(text: Any) -> list[dict[str, Any]]:
    import json

    try:
        cols = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return []
    return [c for c in cols or [] if isinstance(c, dict)]


class PyfuncFutureForecaster(FutureForm):
    flavor = "pyfunc"
    interfaces: tuple[str, ...] = ("forecaster",)
    features: tuple[Feature, ...] = ()
    takes_history = False

    def __init__(self, model: Any, types: dict[str, str], params: set[str], outputs: list[str]) -> None:
        self.model, self.types = model, types
        times = [c for c, t in types.items() if t == "datetime"] or [c for c in types if c in TIME_COLUMNS]
        self.time_column = times[0] if times else None
        self.future_columns = tuple(
            ([self.time_column] if self.time_column else []) + [c for c in types if c != self.time_column]
        )
        self.width = next((p for p in WIDTH_PARAMS if p in params), None)
        self.takes_levels = "levels" in params
        self.any_level = bool(self.width or self.takes_levels)
        found = _bounds(_Columns(outputs))
        self.fixed_levels = tuple(sorted(float(k) / 100 for k in found))

    def forecast(
        self, history: Sequence[float], horizon: int, levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        from mlgate.adapters.forecasting.future import refuse_form

        raise refuse_form("this pyfunc forecaster", "future", self.future_columns)

    def _call(self, frame: Any, params: dict[str, Any] | None) -> Any:
        import pandas as pd

        out = self.model.predict(frame, params=params) if params else self.model.predict(frame)
        result = out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)
        if len(result) != len(frame):
            raise BackendError(
                f"the pyfunc forecaster returned {len(result)} rows for {len(frame)} future rows",
                "return one row per future row (see docs/forecasting.md)",
            )
        return result

    def forecast_future(
        self, future: list[dict[str, Any]], levels: Sequence[float]
    ) -> tuple[list[float], list[Interval]]:
        frame = self._cast(check_future(future, self.future_columns, self.time_column))
        lv = self.check_future_levels(levels)
        calls: dict[float, Any] = {}
        if self.width:
            calls = {level: self._call(frame, {self.width: level}) for level in lv}
        first = (
            next(iter(calls.values()))
            if calls
            else self._call(frame, {"levels": lv} if self.takes_levels else None)
        )
        (point,) = finite_rows("pyfunc", first[_point_column(first)])
        bands: list[Interval] = []
        for i, level in enumerate(lv):
            one = calls.get(level, first)
            bounds = _bounds(one)
            if label(level) in bounds:
                lo, hi = bounds[label(level)]
            elif {"yhat_lower", "yhat_upper"} <= set(one.columns) and (self.width or i == 0):
                lo, hi = "yhat_lower", "yhat_upper"
            elif {"yhat_lower", "yhat_upper"} <= set(one.columns):
                one = self._call(frame, {"levels": [level]})
                lo, hi = "yhat_lower", "yhat_upper"
            else:
                raise BackendError(
                    f"the pyfunc forecaster returned no interval for level {level}",
                    f"return lo-{label(level)}/hi-{label(level)} or yhat_lower/yhat_upper columns",
                )
            lower, upper = finite_rows("pyfunc", one[lo], one[hi])
            bands.append((level, lower, upper))
        return point, bands

    def _cast(self, frame: Any) -> Any:
        for c, t in self.types.items():
            if t in CASTS and c != self.time_column:
                if t in ("long", "integer") and not all(float(v).is_integer() for v in frame[c]):
                    from mlgate.errors import InvalidInput

                    raise InvalidInput(f"future's {c} takes whole numbers", f"send integers for {c}")
                frame[c] = frame[c].astype(CASTS[t])
        return frame


class _Columns:
    """Just enough of a DataFrame for ``_bounds``: the output signature's column names."""

    def __init__(self, names: list[str]) -> None:
        self.columns = names
