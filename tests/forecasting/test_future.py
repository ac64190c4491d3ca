"""Forecasts with a future, through the MCP tools, on a registry written by plain MLflow code: a pyfunc
future-frame forecaster, Prophet with a regressor and SARIMAX with exog answer the future rows a caller
sends with the library's own numbers (intervals included, to 1e-6); ml_model_info says the form, the
levels, and its example goes through; other levels, missing columns and the wrong form are refused by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlflow_at, mlflow_db
from tests._support.forecasting import PINS, monthly
from tests.forecasting.models import FutureFrame

pytestmark = pytest.mark.anyio

H = 6


def _promo(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray([1.0 if d.month in (11, 12) else 0.0 for d in index])


def _log(series: pd.Series) -> dict[str, Any]:
    import mlflow
    import mlflow.prophet
    import mlflow.pyfunc
    import mlflow.statsmodels
    import statsmodels.api as sm
    from mlflow.models import infer_signature
    from prophet import Prophet

    promo = _promo(series.index)
    y = series.to_numpy() + 4.0 * promo
    exog = pd.DataFrame({"promo": promo, "price": np.linspace(10, 12, len(y))}, index=series.index)
    endog = pd.Series(y, index=series.index)
    sarimax = sm.tsa.SARIMAX(endog, exog=exog, order=(1, 0, 0), trend="c").fit(disp=False)
    plain = sm.tsa.SARIMAX(endog, order=(1, 0, 0), trend="c").fit(disp=False)
    with mlflow.start_run():
        mlflow.statsmodels.log_model(
            sarimax, name="m", registered_model_name="sm-exog", pip_requirements=PINS
        )
        mlflow.statsmodels.log_model(
            plain, name="plain", registered_model_name="sm-plain", pip_requirements=PINS
        )
    prophet = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=300)
    prophet.add_regressor("promo")
    prophet.fit(pd.DataFrame({"ds": series.index, "y": y, "promo": promo}))
    with mlflow.start_run():
        mlflow.prophet.log_model(
            prophet, name="m", registered_model_name="pr-regressor", pip_requirements=PINS
        )
    frame = pd.DataFrame({"ds": series.index[-12:], "promo": promo[-12:]})
    model = FutureFrame(list(y), series.index[-1])
    out = model.predict(None, frame, {"interval_width": 0.8})
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="m",
            python_model=model,
            registered_model_name="pf-future",
            signature=infer_signature(frame, out, params={"interval_width": 0.8}),
            pip_requirements=PINS,
        )
        fixed = FutureFrame(list(y), series.index[-1])
        mlflow.pyfunc.log_model(
            name="fixed",
            python_model=fixed,
            registered_model_name="pf-future-fixed",
            signature=infer_signature(frame, fixed.predict(None, frame)),
            pip_requirements=PINS,
        )
    return {"sm-exog": sarimax, "pr-regressor": prophet, "pf-future": model}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:

    root = tmp_path_factory.mktemp("future-registry")
    uri = mlflow_db(root)
    with mlflow_at(uri, "future"):
        yield {"fitted": _log(monthly()), "uri": uri, "root": root}


@pytest.fixture
async def client(registry: dict[str, Any], tmp_path: Path) -> AsyncIterator[Any]:
    settings = Settings(
        home=tmp_path,
        tracking_uri=registry["uri"],
        stdio_scopes=["ml:read", "ml:infer"],
        trusted_models=["sm-*", "pf-*"],  # the operator trusts these pickles (as `mlgate models admit` would)
    )
    settings.ensure_home()
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        yield c
    await rt.aclose()


FUTURE_DATES = [str(d.date()) for d in pd.date_range("2024-01-01", periods=H, freq="MS")]
PROMO = [0.0, 0.0, 1.0, 0.0, 1.0, 1.0]
PRICE = [12.1, 12.2, 12.3, 12.4, 12.5, 12.6]


def _close(got: list[float], want: Any) -> None:
    np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=0, atol=1e-6)


async def test_sarimax_with_exog_equals_its_own_forecast(client: Any, registry: dict[str, Any]) -> None:
    rows = [{"ds": d, "promo": p, "price": q} for d, p, q in zip(FUTURE_DATES, PROMO, PRICE, strict=True)]
    err, out = await call(
        client, "ml_forecast", {"model": "sm-exog@1", "future": rows, "levels": [0.8, 0.95]}
    )
    assert not err, out
    own = registry["fitted"]["sm-exog"].get_forecast(H, exog=np.column_stack([PROMO, PRICE]))
    _close(out["forecast"], own.predicted_mean)
    for band in out["intervals"]:
        ci = np.asarray(own.conf_int(alpha=1 - band["level"]))
        _close(band["lower"], ci[:, 0])
        _close(band["upper"], ci[:, 1])
    assert out["horizon"] == H
    err, msg = await call(client, "ml_forecast", {"model": "sm-exog@1", "horizon": H})
    assert err and "['promo', 'price']" in msg and "future" in msg
    err, msg = await call(client, "ml_forecast", {"model": "sm-exog@1", "future": [{"promo": 1.0}]})
    assert err and "future[0] lacks ['price']" in msg
    err, msg = await call(
        client, "ml_forecast", {"model": "sm-exog@1", "future": [{"promo": 1.0, "price": 1.0, "temp": 3}]}
    )
    assert err and "temp" in msg


async def test_prophet_with_a_regressor_equals_its_own_predict(client: Any, registry: dict[str, Any]) -> None:
    rows = [{"ds": d, "promo": p} for d, p in zip(FUTURE_DATES, PROMO, strict=True)]
    err, out = await call(client, "ml_forecast", {"model": "pr-regressor@1", "future": rows})
    assert not err, out
    model = registry["fitted"]["pr-regressor"]
    frame = pd.DataFrame({"ds": pd.to_datetime(FUTURE_DATES), "promo": PROMO})
    assert [b["level"] for b in out["intervals"]] == [0.8, 0.95]
    for band in out["intervals"]:
        model.interval_width = band["level"]
        np.random.seed(0)
        own = model.predict(frame)
        _close(out["forecast"], own["yhat"])
        _close(band["lower"], own["yhat_lower"])
        _close(band["upper"], own["yhat_upper"])
    err, msg = await call(client, "ml_forecast", {"model": "pr-regressor@1", "horizon": 3})
    assert err and "promo" in msg and "future" in msg
    err, msg = await call(
        client, "ml_forecast", {"model": "pr-regressor@1", "future": [{"ds": "soon", "promo": 1.0}]}
    )
    assert err and "future[0].ds" in msg and "not a date" in msg


async def test_pyfunc_future_frame_equals_its_own_predict(client: Any, registry: dict[str, Any]) -> None:
    rows = [{"ds": d, "promo": p} for d, p in zip(FUTURE_DATES, PROMO, strict=True)]
    err, out = await call(
        client, "ml_forecast", {"model": "pf-future@1", "future": rows, "levels": [0.5, 0.9]}
    )
    assert not err, out
    model = registry["fitted"]["pf-future"]
    frame = pd.DataFrame({"ds": pd.to_datetime(FUTURE_DATES), "promo": PROMO})
    for band in out["intervals"]:
        own = model.predict(None, frame, {"interval_width": band["level"]})
        _close(out["forecast"], own["yhat"])
        _close(band["lower"], own["yhat_lower"])
        _close(band["upper"], own["yhat_upper"])

    # yhat_lower/yhat_upper with no declared level: the point forecast, and levels refused by name
    err, card = await call(client, "ml_model_info", {"model": "pf-future-fixed@1"})
    assert not err and card["forecast"] == {"form": "future", "future_columns": ["ds", "promo"], "levels": []}
    err, out = await call(client, "ml_forecast", {"model": "pf-future-fixed@1", "future": rows})
    assert not err and out["intervals"] == [], out
    _close(out["forecast"], model.predict(None, frame)["yhat"])
    err, msg = await call(
        client, "ml_forecast", {"model": "pf-future-fixed@1", "future": rows, "levels": [0.9]}
    )
    assert err and "cannot give an interval at level 0.9" in msg


@pytest.mark.parametrize("name", ["sm-exog", "pr-regressor", "pf-future"])
async def test_model_info_shows_the_form_and_its_example_works(client: Any, name: str) -> None:
    err, card = await call(client, "ml_model_info", {"model": f"{name}@1"})
    assert not err, card
    assert card["forecast"]["form"] == "future" and card["forecast"]["levels"] is None  # any level
    example = card["example"]
    assert set(example["future"][0]) == set(card["forecast"]["future_columns"])
    err, out = await call(client, "ml_forecast", example)
    assert not err, out
    assert len(out["forecast"]) == len(example["future"]) and len(out["intervals"]) == 2


async def test_the_wrong_form_and_a_mismatched_horizon_are_refused(client: Any) -> None:
    rows = [{"promo": 0.0, "price": 1.0}]
    err, msg = await call(client, "ml_forecast", {"model": "sm-plain@1", "future": rows})
    assert err and "forecasts from a horizon: it takes no future rows" in msg
    err, card = await call(client, "ml_model_info", {"model": "sm-plain@1"})
    assert not err and card["forecast"] == {"form": "horizon", "future_columns": [], "levels": None}
    err, msg = await call(client, "ml_forecast", {"model": "sm-exog@1", "future": rows, "horizon": 2})
    assert err and "horizon 2 differs from the 1 future rows" in msg
    err, msg = await call(client, "ml_forecast", {"model": "sm-exog@1", "future": []})
    assert err and "future must be a list of 1..1000 records" in msg
