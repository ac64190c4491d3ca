"""Custom pyfunc forecasters following the documented convention."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlgate.adapters.forecasting.common import forecaster_kind
from mlgate.adapters.forecasting.dispatch import load_forecaster
from mlgate.errors import BackendError, InvalidInput
from tests._support.forecasting import read_mlmodel
from tests.forecasting.models import drift_forecast

LEVELS = [0.8, 0.95, 0.975]


def _load(reg: dict[str, Any], name: str) -> Any:
    path = reg["path"](name)
    mlmodel = read_mlmodel(path)
    assert forecaster_kind(mlmodel) == "pyfunc"
    return load_forecaster(path, mlmodel)


@pytest.mark.parametrize("name", ["pf-statsforecast-style", "pf-yhat-style"])
def test_pyfunc_conventions_equal_the_model(plain_registry: dict[str, Any], name: str) -> None:
    fc = _load(plain_registry, name)
    history = [float(v) for v in plain_registry["series"].to_numpy()[-24:]]
    point, bands = fc.forecast(history, 5, LEVELS)
    assert [b[0] for b in bands] == LEVELS
    for level, lower, upper in bands:
        want, half = drift_forecast(np.asarray(history), 5, level)
        np.testing.assert_allclose(point, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(lower, want - half, rtol=0, atol=1e-6)
        np.testing.assert_allclose(upper, want + half, rtol=0, atol=1e-6)
    with pytest.raises(InvalidInput, match="level 80"):
        fc.forecast(history, 5, [80])


def test_yhat_style_forecasts_from_its_own_data_without_history(plain_registry: dict[str, Any]) -> None:
    point, [(_, lower, upper)] = _load(plain_registry, "pf-yhat-style").forecast([], 3, [0.9])
    want, half = drift_forecast(plain_registry["series"].to_numpy(), 3, 0.9)
    np.testing.assert_allclose(point, want, atol=1e-6)
    np.testing.assert_allclose(lower, want - half, atol=1e-6)
    np.testing.assert_allclose(upper, want + half, atol=1e-6)


def test_pyfunc_without_horizon_param_is_refused_at_load(plain_registry: dict[str, Any]) -> None:
    with pytest.raises(BackendError, match="declares no 'horizon' parameter"):
        _load(plain_registry, "pf-no-params")
