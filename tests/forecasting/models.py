"""Custom pyfunc forecasters a team might write, following docs/forecasting.md (pickled by reference)."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from scipy.stats import norm


def drift_forecast(y: np.ndarray, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Random walk with drift: point forecast and half-width of the normal interval at ``level``."""
    steps = np.arange(1, horizon + 1)
    drift = (y[-1] - y[0]) / (len(y) - 1)
    sd = float(np.std(np.diff(y), ddof=1))
    return y[-1] + drift * steps, norm.ppf(0.5 + level / 2) * sd * np.sqrt(steps)


class StatsforecastStyle(mlflow.pyfunc.PythonModel):
    """lo-80 / hi-80 columns for every level asked, from the caller's history."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        p = params or {}
        y = model_input["y"].to_numpy(dtype=float)
        out = {}
        for level in p.get("levels", [0.8]):
            point, half = drift_forecast(y, int(p["horizon"]), float(level))
            out["Drift"] = point
            out[f"Drift-lo-{float(level) * 100:g}"] = point - half
            out[f"Drift-hi-{float(level) * 100:g}"] = point + half
        return pd.DataFrame(out)


class YhatStyle(mlflow.pyfunc.PythonModel):
    """Prophet-style yhat / yhat_lower / yhat_upper for levels[0], from its own stored history."""

    def __init__(self, y: list[float]) -> None:
        self.y = np.asarray(y, dtype=float)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        p = params or {}
        y = model_input["y"].to_numpy(dtype=float) if len(model_input) else self.y
        point, half = drift_forecast(y, int(p["horizon"]), float(p.get("levels", [0.8])[0]))
        return pd.DataFrame({"yhat": point, "yhat_lower": point - half, "yhat_upper": point + half})


class FutureFrame(mlflow.pyfunc.PythonModel):
    """Future-frame style: rows of ds and a promo regressor in, yhat / yhat_lower / yhat_upper out, the
    interval at ``interval_width`` (default 0.8), as a team's Prophet-shaped forecaster answers."""

    def __init__(self, y: list[float], last: Any) -> None:
        self.y = np.asarray(y, dtype=float)
        self.last = pd.Timestamp(last)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        width = float((params or {}).get("interval_width", 0.8))
        ds = pd.to_datetime(model_input["ds"])
        steps = np.asarray(
            [(d.year - self.last.year) * 12 + d.month - self.last.month for d in ds], dtype=float
        )
        drift = (self.y[-1] - self.y[0]) / (len(self.y) - 1)
        sd = float(np.std(np.diff(self.y), ddof=1))
        point = self.y[-1] + drift * steps + 3.0 * model_input["promo"].to_numpy(dtype=float)
        half = norm.ppf(0.5 + width / 2) * sd * np.sqrt(np.maximum(steps, 1.0))
        return pd.DataFrame({"yhat": point, "yhat_lower": point - half, "yhat_upper": point + half})
