from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import pytest

from mlgate.errors import InvalidInput
from mlgate.interfaces.seasonal import fit_seasonal, forecast_seasonal, make_demo_series, normal_ppf

PARAMS = {"method": "seasonal_trend", "period": 12}


def _clean(n: int, period: int = 12) -> list[float]:
    t = np.arange(n, dtype=float)
    return (50.0 + 0.7 * t + 8.0 * np.sin(2 * np.pi * t / period) + 3.0 * np.cos(4 * np.pi * t / period)).tolist()


def test_normal_ppf_matches_stdlib() -> None:
    for p in (1e-8, 0.001, 0.02, 0.1, 0.5, 0.9, 0.975, 0.999, 1 - 1e-8):
        assert normal_ppf(p) == pytest.approx(NormalDist().inv_cdf(p), abs=1e-8)


def test_noise_free_sinusoid_with_trend_is_forecast_exactly() -> None:
    full = _clean(120 + 30)
    point, bands = forecast_seasonal(PARAMS, full[:120], 30, [0.8])
    assert len(point) == 30
    assert np.max(np.abs(np.array(point) - np.array(full[120:]))) < 1e-6
    lower, upper = bands[0][1], bands[0][2]
    assert max(u - lo for lo, u in zip(lower, upper, strict=True)) < 1e-6


def test_intervals_are_ordered_nested_and_widen_with_horizon() -> None:
    series = make_demo_series(n=240, period=12, seed=3)
    point, bands = forecast_seasonal(PARAMS, series, 48, [0.95, 0.8, 0.5])
    assert [b[0] for b in bands] == [0.95, 0.8, 0.5]
    widths = {}
    for level, lower, upper in bands:
        assert len(lower) == len(upper) == 48
        assert all(lo <= p <= u for lo, p, u in zip(lower, point, upper, strict=True))
        widths[level] = np.array(upper) - np.array(lower)
    assert np.all(widths[0.95] > widths[0.8])
    assert np.all(widths[0.8] > widths[0.5])
    # same phase one and four seasons ahead: the later one is wider (trend extrapolation)
    assert widths[0.8][47] > widths[0.8][11]


def test_coverage_is_roughly_nominal_on_gaussian_noise() -> None:
    rng = np.random.default_rng(42)
    inside = {0.8: 0, 0.95: 0}
    total = 0
    for _ in range(200):
        y = np.array(_clean(132)) + rng.normal(0.0, 2.0, 132)
        _, bands = forecast_seasonal(PARAMS, y[:120].tolist(), 12, [0.8, 0.95])
        for level, lower, upper in bands:
            inside[level] += int(np.sum((y[120:] >= lower) & (y[120:] <= upper)))
        total += 12
    assert 0.76 <= inside[0.8] / total <= 0.84
    assert 0.93 <= inside[0.95] / total <= 0.97


def test_fit_returns_json_serialisable_params_and_holdout_metrics() -> None:
    series = make_demo_series()
    params = fit_seasonal(series, 12)
    json.dumps(params)
    assert params["method"] == "seasonal_trend"
    assert params["period"] == 12
    assert params["trained_on"] == 240
    assert 2.0 < params["residual_std"] < 3.0  # the demo noise sd is 2.5
    metrics = params["metrics"]
    assert set(metrics) == {"mae", "rmse", "coverage_80", "coverage_95"}
    assert 0 < metrics["mae"] <= metrics["rmse"] < 6.0
    assert 0.0 <= metrics["coverage_80"] <= metrics["coverage_95"] <= 1.0
    # the stored params drive a forecast
    point, _ = forecast_seasonal(params, series, 3, [0.9])
    assert all(math.isfinite(v) for v in point)


def test_fit_on_clean_series_has_near_zero_error() -> None:
    metrics = fit_seasonal(_clean(60), 12)["metrics"]
    assert metrics["mae"] < 1e-6


def test_demo_series_is_deterministic() -> None:
    assert make_demo_series(seed=5) == make_demo_series(seed=5)
    assert make_demo_series(seed=5) != make_demo_series(seed=6)
    assert len(make_demo_series(n=100, period=7)) == 100


@pytest.mark.parametrize(
    ("history", "horizon", "levels", "message"),
    [
        (list(range(23)), 5, [0.8], "needs at least 24"),
        ([*range(29), math.nan], 5, [0.8], "non-finite"),
        ([*range(29), math.inf], 5, [0.8], "non-finite"),
        (list(range(30)), 0, [0.8], "horizon 0 is outside 1..1000"),
        (list(range(30)), 1001, [0.8], "horizon 1001 is outside"),
        (list(range(30)), 5, [1.0], "not strictly between 0 and 1"),
        (list(range(30)), 5, [0.0], "not strictly between 0 and 1"),
        (list(range(30)), 5, [95], "not strictly between 0 and 1"),
        (list(range(30)), 5, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "more than the limit of 5"),
        (list(range(30)), 5, [0.8, 0.8], "duplicates"),
        (["a", "b"], 5, [0.8], "must be a list of numbers"),
        ([[1.0, 2.0]] * 30, 5, [0.8], "one-dimensional"),
    ],
)
def test_forecast_refuses_bad_input(history: list[float], horizon: int, levels: list[float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        forecast_seasonal(PARAMS, history, horizon, levels)
    assert info.value.hint


def test_forecast_refuses_bad_params() -> None:
    with pytest.raises(InvalidInput, match="no 'period'"):
        forecast_seasonal({}, list(range(30)), 5, [0.8])
    with pytest.raises(InvalidInput, match="period must be at least 2"):
        forecast_seasonal({"period": 1}, list(range(30)), 5, [0.8])
    with pytest.raises(InvalidInput, match="not 'seasonal_trend'"):
        forecast_seasonal({"method": "arima", "period": 12}, list(range(30)), 5, [0.8])


def test_fit_refuses_bad_input() -> None:
    with pytest.raises(InvalidInput, match="needs at least 36") as info:
        fit_seasonal(list(range(35)), 12)
    assert "at least 36 points" in str(info.value)
    with pytest.raises(InvalidInput, match="period must be at least 2"):
        fit_seasonal(list(range(35)), 1)
    with pytest.raises(InvalidInput, match="period must be an integer"):
        fit_seasonal(list(range(35)), 2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="non-finite"):
        fit_seasonal([*range(40), math.nan], 12)
