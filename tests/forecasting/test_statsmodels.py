"""statsmodels results logged with mlflow.statsmodels: the adapter answers what the library answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlgate.adapters.forecasting.common import forecaster_kind
from mlgate.adapters.forecasting.dispatch import load_forecaster
from mlgate.errors import InvalidInput
from tests._support.forecasting import read_mlmodel

LEVELS = [0.5, 0.8, 0.95]


def _load(reg: dict[str, Any], name: str) -> Any:
    path = reg["path"](name)
    mlmodel = read_mlmodel(path)
    assert forecaster_kind(mlmodel) == "statsmodels"
    return load_forecaster(path, mlmodel)


def _same(point: list[float], bands: Any, want_point: Any, want_bands: list[Any]) -> None:
    np.testing.assert_allclose(point, np.asarray(want_point), rtol=0, atol=1e-6)
    assert [b[0] for b in bands] == LEVELS
    for (_, lower, upper), (lo, hi) in zip(bands, want_bands, strict=True):
        np.testing.assert_allclose(lower, lo, rtol=0, atol=1e-6)
        np.testing.assert_allclose(upper, hi, rtol=0, atol=1e-6)
        assert all(a < b for a, b in zip(lower, upper, strict=True))


@pytest.mark.parametrize("name", ["sarimax", "arima"])
def test_state_space_horizon_alone_equals_get_forecast(plain_registry: dict[str, Any], name: str) -> None:
    fc = _load(plain_registry, f"sm-{name}")
    point, bands = fc.forecast([], 7, LEVELS)
    own = plain_registry["fitted"][name].get_forecast(7)
    cis = [np.asarray(own.conf_int(alpha=1 - lv)) for lv in LEVELS]
    _same(point, bands, own.predicted_mean, [(c[:, 0], c[:, 1]) for c in cis])


def test_state_space_conditions_on_history_with_apply(plain_registry: dict[str, Any]) -> None:
    fc = _load(plain_registry, "sm-sarimax")
    history = (plain_registry["series"].to_numpy()[-30:] + 10.0).tolist()  # shifted: a different state
    point, bands = fc.forecast(history, 5, LEVELS)
    own = plain_registry["fitted"]["sarimax"].apply(endog=np.asarray(history)).get_forecast(5)
    cis = [np.asarray(own.conf_int(alpha=1 - lv)) for lv in LEVELS]
    _same(point, bands, own.predicted_mean, [(c[:, 0], c[:, 1]) for c in cis])
    plain, _ = fc.forecast([], 5, [])
    assert point[0] - plain[0] > 5  # the history moved the forecast


def test_short_history_refused(plain_registry: dict[str, Any]) -> None:
    fc = _load(plain_registry, "sm-sarimax")
    with pytest.raises(InvalidInput, match="history has 3 values but this model needs at least 24"):
        fc.forecast([1.0, 2.0, 3.0], 3, [0.8])


@pytest.mark.parametrize("name", ["ets", "ets-mul"])
def test_ets_equals_get_prediction(plain_registry: dict[str, Any], name: str) -> None:
    res = plain_registry["fitted"][name]
    fc = _load(plain_registry, f"sm-{name}")
    point, bands = fc.forecast([], 6, LEVELS)
    n = int(res.nobs)
    own = res.get_prediction(start=n, end=n + 5, rng=np.random.default_rng(0))
    cis = [np.asarray(own.pred_int(alpha=1 - lv)) for lv in LEVELS]
    _same(point, bands, own.predicted_mean, [(c[:, 0], c[:, 1]) for c in cis])
    assert fc.forecast([], 6, LEVELS) == (
        point,
        bands,
    )  # simulated intervals are seeded: same call, same answer
    with pytest.raises(InvalidInput, match="forecasts from the data it was fitted on"):
        fc.forecast([1.0] * 40, 3, [0.8])


def test_holt_winters_equals_simulate_quantiles(plain_registry: dict[str, Any]) -> None:
    res = plain_registry["fitted"]["holt-winters"]
    fc = _load(plain_registry, "sm-holt-winters")
    point, bands = fc.forecast([], 4, LEVELS)
    sims = np.asarray(res.simulate(4, anchor="end", repetitions=1000, rng=np.random.default_rng(0)))
    want = [np.quantile(sims, [(1 - lv) / 2, (1 + lv) / 2], axis=1) for lv in LEVELS]
    _same(point, bands, res.forecast(4), [(w[0], w[1]) for w in want])


def test_regression_results_are_not_forecasters(plain_registry: dict[str, Any]) -> None:
    assert _load(plain_registry, "sm-ols") is None


@pytest.mark.parametrize(
    ("levels", "needle"),
    [
        ([1.5], "level 1.5 is not a number strictly between 0 and 1"),
        ([95], "level 95"),
        ([0.0], "level 0.0"),
        ([0.8, 0.8], "listed twice"),
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "more than the limit of 5"),
        (["0.8"], "level '0.8'"),
        ([float("nan")], "level nan"),
    ],
)
def test_levels_out_of_range_refused(plain_registry: dict[str, Any], levels: list[Any], needle: str) -> None:
    fc = _load(plain_registry, "sm-sarimax")
    with pytest.raises(InvalidInput, match=needle) as info:
        fc.forecast([], 3, levels)
    assert (info.value.hint and "fraction" in str(info.value)) or "level" in str(info.value)


@pytest.mark.parametrize("horizon", [0, -1, 1001, 2.5, True])
def test_bad_horizon_refused(plain_registry: dict[str, Any], horizon: Any) -> None:
    with pytest.raises(InvalidInput, match="horizon"):
        _load(plain_registry, "sm-sarimax").forecast([], horizon, [0.8])


def test_forecaster_kind_reads_only_flavors() -> None:
    assert forecaster_kind({"flavors": {"sklearn": {}, "python_function": {}}}) is None
    assert forecaster_kind({"flavors": {"prophet": {}, "python_function": {}}}) == "prophet"
    yhat = '[{"name": "yhat", "type": "double"}]'
    assert forecaster_kind({"flavors": {"python_function": {}}, "signature": {"outputs": yhat}}) == "pyfunc"
    assert (
        forecaster_kind(
            {"flavors": {"python_function": {}}, "metadata": {"mlgate": {"interfaces": ["forecaster"]}}}
        )
        == "pyfunc"
    )
    assert forecaster_kind({}) is None
