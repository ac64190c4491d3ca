"""Forecasts with a future: the caller sends the future rows (time index and regressors) in ``future``.

Three kinds of models take them (``docs/forecasting.md``): a ``mlflow.pyfunc`` future-frame forecaster
(its signature's inputs are the future columns, its outputs ``yhat``/``yhat_lower``/``yhat_upper`` or
``lo-80``/``hi-80``), Prophet with extra regressors, conditional seasonalities or logistic growth, and
statsmodels state-space results fitted with ``exog``. Each adapter says its ``form`` (``horizon`` or
``future``), the columns a future row holds (``future_columns``, the time column first when there is one)
and which interval levels it can give (``any_level``, else ``fixed_levels``); ``forecast_future`` answers
one point per row and the intervals the model itself computes. Here: the checks they share, so a bad row
is refused naming the record and the column, and a level the model cannot give is refused by name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlgate.adapters.forecasting.common import MAX_HORIZON
from mlgate.errors import InvalidInput
from mlgate.numbers import finite, shown

TIME_COLUMNS = ("ds", "date", "time", "timestamp", "period")


class FutureForm:
    """What a future-form forecaster takes and gives (mixed into the adapters)."""

    form = "future"
    future_columns: tuple[str, ...] = ()
    time_column: str | None = None
    optional_columns: tuple[str, ...] = ()
    any_level = True
    fixed_levels: tuple[float, ...] = ()

    def default_levels(self) -> list[float]:
        return [0.8, 0.95] if self.any_level else list(self.fixed_levels)

    def check_future_levels(self, levels: Sequence[float]) -> list[float]:
        from mlgate.adapters.forecasting.common import check_levels

        lv = check_levels(levels)
        if self.any_level:
            return lv
        other = [v for v in lv if not any(math.isclose(v, f, abs_tol=1e-9) for f in self.fixed_levels)]
        if other:
            can = ", ".join(f"{f:g}" for f in self.fixed_levels) or "none (the point forecast only)"
            raise InvalidInput(
                f"this model cannot give an interval at level {other[0]:g}: the levels it computes are {can}",
                f"ask with levels: {[float(f) for f in self.fixed_levels]}",
            )
        return lv

    def example_rows(self, n: int = 3) -> list[dict[str, Any]]:
        """Future rows that go through ``forecast_future`` (regressors 0; dates from ``next_dates``)."""
        dates = self.next_dates(n)
        rows: list[dict[str, Any]] = []
        for i in range(n):
            row: dict[str, Any] = {c: 0.0 for c in self.future_columns if c != self.time_column}
            if self.time_column is not None:
                row = {self.time_column: dates[i], **row}
            rows.append(row)
        return rows

    def next_dates(self, n: int) -> list[str]:
        import pandas as pd

        return [str(d.date()) for d in pd.date_range("2030-01-01", periods=n, freq="MS")]


def check_future(future: Any, columns: Sequence[str], time: str | None, optional: Sequence[str] = ()) -> Any:
    """The rows as a DataFrame with ``columns`` in order (time parsed as dates, the rest as finite numbers);
    refuses naming the record and the column that is missing, unknown or not a value."""
    import pandas as pd

    if not isinstance(future, list) or not future or len(future) > MAX_HORIZON:
        raise InvalidInput(
            f"future must be a list of 1..{MAX_HORIZON} records",
            f"send one record per future step: {list(columns)}",
        )
    wanted, allowed = list(columns), set(columns) | set(optional)
    data: dict[str, list[Any]] = {c: [] for c in wanted}
    for i, row in enumerate(future):
        if not isinstance(row, dict):
            raise InvalidInput(f"future[{i}] is not a record", f"send {{column: value}} with {wanted}")
        missing = [c for c in wanted if c not in row]
        unknown = sorted(str(k) for k in row if k not in allowed)
        if missing or unknown:
            what = f"lacks {missing}" if missing else f"has columns the model does not take: {unknown}"
            raise InvalidInput(f"future[{i}] {what}", f"each future row holds exactly {wanted}")
        for c in wanted:
            data[c].append(_value(row[c], i, c, c == time))
    frame = pd.DataFrame(data)
    if time is not None:
        frame[time] = pd.to_datetime(frame[time])
        if not frame[time].is_monotonic_increasing or frame[time].duplicated().any():
            raise InvalidInput(
                f"future's {time} values are not increasing", "send the future rows in time order, once each"
            )
    return frame


def _value(v: Any, i: int, column: str, is_time: bool) -> Any:
    if is_time:
        import pandas as pd

        try:
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                raise ValueError
            return pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            raise InvalidInput(
                f"future[{i}].{column} is {str(v)[:40]!r}, not a date", "send ISO dates, e.g. '2024-01-01'"
            ) from None
    if isinstance(v, bool) or not isinstance(v, int | float) or not finite(v):
        raise InvalidInput(f"future[{i}].{column} is {shown(v)}, not a finite number", "send JSON numbers")
    return float(v)


def refuse_form(model: str, form: str, columns: Sequence[str]) -> InvalidInput:
    """A call in the other form: a future sent to a horizon forecaster, or a horizon alone to a future one."""
    if form == "future":
        return InvalidInput(
            f"{model} forecasts the future rows you send, not a horizon alone",
            f"pass future: one record per step with {list(columns)} (ml_model_info has an example)",
        )
    return InvalidInput(
        f"{model} forecasts from a horizon: it takes no future rows",
        "pass horizon (and history if it conditions on one) without future",
    )


class HorizonForm:
    form = "horizon"
