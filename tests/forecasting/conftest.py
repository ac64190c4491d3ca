"""A registry built only with plain MLflow calls, the way a team's registry is: one per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests._support import mlflow_at, mlflow_db
from tests._support.forecasting import PINS, monthly


def _log_all(series: pd.Series) -> dict[str, Any]:
    import mlflow
    import mlflow.prophet
    import mlflow.pyfunc
    import mlflow.statsmodels
    import statsmodels.api as sm
    from mlflow.models import infer_signature
    from prophet import Prophet
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from tests.forecasting.models import StatsforecastStyle, YhatStyle

    fitted: dict[str, Any] = {
        "sarimax": sm.tsa.SARIMAX(series, order=(1, 0, 0), seasonal_order=(0, 1, 1, 12), trend="c").fit(
            disp=False
        ),
        "arima": sm.tsa.ARIMA(series, order=(2, 1, 0)).fit(),
        "ets": ETSModel(series, error="add", trend="add", seasonal="add", seasonal_periods=12).fit(
            disp=False
        ),
        "ets-mul": ETSModel(series, error="mul", trend="add", seasonal="mul", seasonal_periods=12).fit(
            disp=False
        ),
        "holt-winters": ExponentialSmoothing(series, trend="add", seasonal="add", seasonal_periods=12).fit(),
        "ols": sm.OLS(series.to_numpy(), sm.add_constant(np.arange(len(series), dtype=float))).fit(),
    }
    y = series.to_numpy()
    for name, res in fitted.items():
        with mlflow.start_run(run_name=f"sm-{name}"):  # one run per model, its in-sample error beside it
            mlflow.log_metrics({"mae": float(np.mean(np.abs(np.asarray(res.resid)))), "aic": float(res.aic)})
            mlflow.statsmodels.log_model(
                res, name=name, registered_model_name=f"sm-{name}", pip_requirements=PINS
            )
    prophet = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=300)
    prophet.fit(pd.DataFrame({"ds": series.index, "y": y}))
    fitted["prophet"] = prophet
    with mlflow.start_run(run_name="pr-prophet"):
        insample = prophet.predict(pd.DataFrame({"ds": series.index}))["yhat"].to_numpy()
        mlflow.log_metric("mae", float(np.mean(np.abs(insample - y))))
        mlflow.prophet.log_model(
            prophet, name="prophet", registered_model_name="pr-prophet", pip_requirements=PINS
        )
    frame = pd.DataFrame({"y": y})
    params = {"horizon": 6, "levels": [0.8, 0.95]}
    drift_mae = float(np.mean(np.abs(np.diff(y) - (y[-1] - y[0]) / (len(y) - 1))))
    for name, model in (
        ("statsforecast-style", StatsforecastStyle()),
        ("yhat-style", YhatStyle(list(series))),
    ):
        out = model.predict(None, frame, params)
        with mlflow.start_run(run_name=f"pf-{name}"):
            mlflow.log_metric("mae", drift_mae)
            mlflow.pyfunc.log_model(
                name=name,
                python_model=model,
                registered_model_name=f"pf-{name}",
                signature=infer_signature(frame, out, params=params),
                input_example=frame.iloc[-24:],  # two years of history: what ml_model_info's example sends
                pip_requirements=PINS,
            )
    # a pyfunc that looks like a forecaster but whose signature drops the horizon
    out = YhatStyle(list(series)).predict(None, frame, params)
    with mlflow.start_run(run_name="pf-no-params"):
        mlflow.log_metric("mae", drift_mae)
        mlflow.pyfunc.log_model(
            name="no-params",
            python_model=YhatStyle(list(series)),
            registered_model_name="pf-no-params",
            signature=infer_signature(frame, out),
            pip_requirements=PINS,
        )
    return fitted


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """{"fitted": library objects by name, "path": name -> local model folder, "series": the data,
    "uri": the tracking (and registry) URI}."""
    import mlflow
    import mlflow.artifacts

    root = tmp_path_factory.mktemp("plain-registry")
    with mlflow_at(mlflow_db(root), "forecasting"):
        series = monthly()
        fitted = _log_all(series)

        def path(name: str) -> Path:
            return Path(mlflow.artifacts.download_artifacts(f"models:/{name}/1"))

        yield {"fitted": fitted, "path": path, "series": series, "uri": f"sqlite:///{root / 'mlflow.db'}"}
