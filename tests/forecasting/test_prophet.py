"""Prophet logged with mlflow.prophet: yhat and, per level, Prophet's own interval under the same seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlgate.adapters.forecasting.common import forecaster_kind
from mlgate.adapters.forecasting.dispatch import load_forecaster
from mlgate.errors import InvalidInput
from tests._support.forecasting import read_mlmodel


def test_prophet_equals_its_own_predict_at_each_level(plain_registry: dict[str, Any]) -> None:
    path = plain_registry["path"]("pr-prophet")
    mlmodel = read_mlmodel(path)
    assert forecaster_kind(mlmodel) == "prophet"
    fc = load_forecaster(path, mlmodel)
    assert fc is not None
    state = np.random.get_state()
    point, bands = fc.forecast([], 6, [0.8, 0.95])
    assert all(
        np.array_equal(a, b) for a, b in zip(np.random.get_state(), state, strict=True)
    )  # RNG untouched
    model = plain_registry["fitted"]["prophet"]
    future = model.make_future_dataframe(periods=6, freq="MS", include_history=False)
    assert str(future["ds"].iloc[0].date()) == "2024-01-01"  # continues the monthly training dates
    for level, lower, upper in bands:
        model.interval_width = level
        np.random.seed(0)
        own = model.predict(future)
        np.testing.assert_allclose(point, own["yhat"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(lower, own["yhat_lower"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(upper, own["yhat_upper"], rtol=0, atol=1e-6)
    (_, lo80, hi80), (_, lo95, hi95) = bands
    assert all(a < b <= p <= c < d for a, b, p, c, d in zip(lo95, lo80, point, hi80, hi95, strict=True))
    assert fc.forecast([], 6, [0.8, 0.95]) == (point, bands)


def test_prophet_refuses_history_and_bad_levels(plain_registry: dict[str, Any]) -> None:
    path = plain_registry["path"]("pr-prophet")
    fc = load_forecaster(path, read_mlmodel(path))
    assert fc is not None
    with pytest.raises(InvalidInput, match="forecasts from the data it was fitted on"):
        fc.forecast([1.0] * 30, 3, [0.8])
    with pytest.raises(InvalidInput, match="strictly between 0 and 1"):
        fc.forecast([], 3, [1.2])
    point, bands = fc.forecast([], 2, [])
    assert len(point) == 2 and bands == []
