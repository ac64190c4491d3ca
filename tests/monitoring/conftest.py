"""A registry filled by plain MLflow calls (``mlflow.<flavor>.log_model(..., registered_model_name=…)``), one
per session, and a fresh MLGATE_HOME (state database: captures, ledger, jobs) per test.

- ``mon-reg``: a scikit-learn Ridge on features a, b, c, d; its run logs ``mae`` and ``rmse`` on a holdout;
- ``mon-cls``: a scikit-learn LogisticRegression with string labels on x1, x2; its run logs ``accuracy``;
- ``mon-fc``: a statsmodels ARIMA fitted on a monthly series; its run logs ``mae``;
- ``mon-gate``: two Ridge versions, 1 (production alias) fitted on a target biased by +3, 2 on the true one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._support import mlflow_at, mlflow_db
from tests._support.monitoring import (
    FEATURES,
    PINS,
    Plain,
    Session,
    classification_data,
    make_settings,
    open_session,
    regression_data,
)


def _log_all() -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn
    import mlflow.statsmodels
    import pandas as pd
    import statsmodels.api as sm
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, mean_absolute_error, root_mean_squared_error

    out: dict[str, Any] = {}
    x, y = regression_data(300, 0)
    frame = pd.DataFrame(x, columns=FEATURES)
    ridge = Ridge(alpha=0.1).fit(frame[:240], y[:240])
    pred = ridge.predict(frame[240:])
    with mlflow.start_run(run_name="mon-reg"):
        mlflow.log_metrics(
            {
                "mae": float(mean_absolute_error(y[240:], pred)),
                "rmse": float(root_mean_squared_error(y[240:], pred)),
            }
        )
        mlflow.sklearn.log_model(
            ridge, name="model", registered_model_name="mon-reg", pip_requirements=PINS,
            signature=infer_signature(frame, pred),
        )  # fmt: skip
    out["mon-reg"] = ridge
    xc, yc = classification_data(300, 1)
    cframe = pd.DataFrame(xc, columns=["x1", "x2"])
    logit = LogisticRegression().fit(cframe, yc)
    with mlflow.start_run(run_name="mon-cls"):
        mlflow.log_metric("accuracy", float(accuracy_score(yc, logit.predict(cframe))))
        mlflow.sklearn.log_model(
            logit, name="model", registered_model_name="mon-cls", pip_requirements=PINS,
            signature=infer_signature(cframe, logit.predict(cframe)),
        )  # fmt: skip
    out["mon-cls"] = logit
    rng = np.random.default_rng(3)
    t = np.arange(48, dtype=float)
    series = pd.Series(
        50 + 0.3 * t + 6 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, 48),
        index=pd.date_range("2020-01-01", periods=48, freq="MS"),
    )
    arima = sm.tsa.ARIMA(series, order=(2, 1, 0)).fit()
    with mlflow.start_run(run_name="mon-fc"):
        mlflow.log_metric("mae", float(np.mean(np.abs(np.asarray(arima.resid)))))
        mlflow.statsmodels.log_model(
            arima, name="model", registered_model_name="mon-fc", pip_requirements=PINS
        )
    out["mon-fc"] = arima
    # mon-gate: version 1 (production) learned a biased target, version 2 the true one
    for bias in (3.0, 0.0):
        est = Ridge(alpha=0.1).fit(frame[:240], y[:240] + bias)
        with mlflow.start_run(run_name="mon-gate"):
            mlflow.log_metric("mae", float(mean_absolute_error(y[240:], est.predict(frame[240:]))))
            mlflow.sklearn.log_model(
                est, name="model", registered_model_name="mon-gate", pip_requirements=PINS,
                signature=infer_signature(frame, pred),
            )  # fmt: skip
    mlflow.MlflowClient().set_registered_model_alias("mon-gate", "production", "1")
    return out


@pytest.fixture(scope="session")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plain]:

    uri = mlflow_db(tmp_path_factory.mktemp("monitoring-registry"))
    with mlflow_at(uri, "monitoring"):
        fitted = _log_all()
    yield Plain(uri, fitted)


@pytest.fixture
async def session(plain: Plain, tmp_path: Path) -> AsyncIterator[Session]:
    async with open_session(make_settings(plain, tmp_path)) as s:
        yield s
