from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlgate.adapters.changepoint import fit_segmenter, make_demo_series, segment_series
from mlgate.errors import InvalidInput

PARAMS = {"method": "ruptures", "penalty": 3.0, "min_size": 10}


def test_demo_series_breakpoints_found_within_tolerance() -> None:
    series, true = make_demo_series()
    assert true == [80, 150, 230]
    breaks, segments = segment_series(PARAMS, series)
    assert len(breaks) == 3
    assert all(abs(b - t) <= 5 for b, t in zip(breaks, true, strict=True))
    assert [s[0] for s in segments] == [0, *breaks]
    assert [s[1] for s in segments] == [*breaks, 300]
    assert [round(s[2]) for s in segments] == [10, 13, 11, 15]


def test_noise_free_steps_are_exact() -> None:
    series = [0.0] * 40 + [5.0] * 25 + [-2.0] * 35
    breaks, segments = segment_series(PARAMS, series)
    assert breaks == [40, 65]
    assert segments == [(0, 40, 0.0), (40, 65, 5.0), (65, 100, -2.0)]


def test_constant_series_has_no_breakpoints() -> None:
    breaks, segments = segment_series(PARAMS, [7.5] * 200)
    assert breaks == []
    assert segments == [(0, 200, 7.5)]


def test_pure_noise_has_no_breakpoints_and_shift_survives_large_offset() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 1.0, 1000)
    assert segment_series(PARAMS, noise.tolist())[0] == []
    shifted = noise + 1e6
    shifted[600:] += 1.5
    breaks, _ = segment_series(PARAMS, shifted.tolist())
    assert len(breaks) == 1 and abs(breaks[0] - 600) <= 10


def test_min_size_is_respected() -> None:
    series = [0.0] * 30 + [10.0] * 4 + [0.0] * 30  # a 4-point blip, shorter than min_size
    _, segments = segment_series(PARAMS, series)
    assert all(end - start >= 10 for start, end, _ in segments)
    small = segment_series({"penalty": 3.0, "min_size": 2}, series)[0]
    assert small == [30, 34]


def test_fit_segmenter_picks_a_useful_penalty() -> None:
    params = fit_segmenter(seed=0)
    json.dumps(params)
    assert params["method"] == "ruptures"
    assert params["min_size"] == 10
    assert params["penalty"] in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
    metrics = params["metrics"]
    assert metrics["f1"] >= 0.85 and metrics["precision"] >= 0.8 and metrics["recall"] >= 0.8
    assert fit_segmenter(seed=0) == params
    series, true = make_demo_series()
    breaks, _ = segment_series(params, series)
    assert len(breaks) == len(true)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ([1.0] * 19, "needs at least 20"),
        ([1.0] * 30 + [math.nan], "non-finite"),
        ([1.0] * 30 + [-math.inf], "non-finite"),
        ([0.0] * 20_001, "more than the limit of 20000"),
        (["x"] * 30, "must be a list of numbers"),
        ([[1.0]] * 30, "one-dimensional"),
    ],
)
def test_segment_refuses_bad_series(series: list[float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        segment_series(PARAMS, series)
    assert info.value.hint


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_size": 10}, "need 'penalty' and 'min_size'"),
        ({"penalty": 0.0, "min_size": 10}, "penalty must be a positive"),
        ({"penalty": math.nan, "min_size": 10}, "penalty must be a positive"),
        ({"penalty": 3.0, "min_size": 0}, "min_size must be a positive integer"),
        ({"penalty": 3.0, "min_size": 2.5}, "min_size must be a positive integer"),
    ],
)
def test_segment_refuses_bad_params(params: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        segment_series(params, [0.0] * 50)
