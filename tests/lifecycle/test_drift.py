"""ml_drift on the demo registry: shifted data drifts, same-distribution data does not; the check is recorded."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.lifecycle.drift import DriftThresholds, ks_2samp, psi
from tests._support import call
from tests._support.lifecycle import make_data, records, tags

pytestmark = pytest.mark.anyio
Two = tuple[str, VersionInfo, VersionInfo]


def diabetes_holdout() -> tuple[np.ndarray, list[str]]:
    """The rows demo-regressor did not train on (the same split as `mlgate demo`)."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    data = load_diabetes()
    _, xte = train_test_split(np.asarray(data.data), test_size=0.2, random_state=0)
    return xte, [str(n) for n in data.feature_names]


async def test_demo_model_same_distribution_does_not_drift(client: Any) -> None:
    x, names = diabetes_holdout()
    err, out = await call(
        client, "ml_drift", {"model": "demo-regressor@production", "current": records(x, names=names)}
    )
    assert not err, out
    assert out["drift_detected"] is False and out["n_drifted"] <= 1 and out["total"] == 10
    assert out["dataset_drift_score"] == out["n_drifted"] / 10
    assert set(out["feature_drift"]) == set(names) and out["reference"] == "training_sample"
    assert out["rows"] == {"reference": 200, "current": len(x)}
    assert out["thresholds"] == {"psi": 0.1, "ks_pvalue": 0.05, "drift_share": 0.5}
    assert out["model"]["version"] == 1 and out["recorded"] is True


async def test_demo_model_shifted_data_drifts(client: Any) -> None:
    x, names = diabetes_holdout()
    shifted = x + np.array([0.05, 0.0, 0.05, 0.05, 0.0, 0.0, 0.05, 0.05, 0.05, 0.0])  # ~1 std on six features
    err, out = await call(
        client, "ml_drift", {"model": "demo-regressor@1", "current": records(shifted, names=names)}
    )
    assert not err, out
    assert out["drift_detected"] is True and out["n_drifted"] == 6 and out["dataset_drift_score"] == 0.6
    drifted = {n for n, f in out["feature_drift"].items() if f["drifted"]}
    assert drifted == {"age", "bmi", "bp", "s3", "s4", "s5"}
    bmi = out["feature_drift"]["bmi"]
    assert (
        bmi["psi"] >= 0.1 and bmi["ks_pvalue"] < 0.05 and bmi["current_mean"] > bmi["reference_mean"] + 0.03
    )
    assert "6 of 10" in out["message"]


async def test_supplied_reference_is_used_and_not_recorded(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    x, _ = make_data(100, seed=3, shift=3.0)
    err, out = await call(
        client, "ml_drift", {"model": f"{name}@2", "current": records(x), "reference": records(x)}
    )
    assert not err and out["drift_detected"] is False and out["n_drifted"] == 0
    assert out["reference"] == "supplied" and out["recorded"] is False
    assert "mlgate.drift" not in tags(settings, name, 2)


async def test_require_drift_check_gate_reads_the_recorded_check(
    client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    gates = {"require_drift_check": True}
    drifted, _ = make_data(150, seed=7, shift=1.5)
    err, out = await call(client, "ml_drift", {"model": f"{name}@2", "current": records(drifted)})
    assert out["drift_detected"] and out["recorded"]
    check = json.loads(tags(settings, name, 2)["mlgate.drift"])
    assert check["passed"] is False and check["n_drifted"] == 4 and check["by"] == "local"
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "gates": gates})
    assert out["promoted"] is False
    assert "found drift in 4 of 4 features" in out["failed_gates"][0]["reason"]

    same, _ = make_data(150, seed=8, offset=100.0)
    err, out = await call(client, "ml_drift", {"model": f"{name}@2", "current": records(same)})
    assert out["drift_detected"] is False and out["recorded"]
    err, out = await call(client, "ml_promote", {"model": name, "version": 2, "gates": gates})
    assert not err, out
    assert out["promoted"] is True and out["gates"][0]["passed"]


@pytest.mark.parametrize(
    ("model", "current", "needle"),
    [
        ("demo-sentiment@1", [{"text": 1.0}] * 20, "no tabular features"),
        ("demo-regressor@1", [{"age": 0.0}] * 20, "missing 'sex'"),
        ("demo-regressor@1", "rows", "current"),
    ],
)
async def test_bad_drift_requests_refused(client: Any, model: str, current: Any, needle: str) -> None:
    err, msg = await call(client, "ml_drift", {"model": model, "current": current})
    assert err and needle in msg, msg


async def test_too_few_rows_refused(client: Any, two_versions: Two) -> None:
    name, _, _ = two_versions
    x, _ = make_data(5, seed=1)
    err, msg = await call(client, "ml_drift", {"model": f"{name}@1", "current": records(x)})
    assert err and "at least 10" in msg


def test_statistics_match_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    for n, m, shift in [(200, 50, 0.0), (200, 80, 0.6), (150, 1000, 0.1), (300, 12_000, 0.05)]:
        a, b = rng.normal(size=n), rng.normal(shift, size=m)
        ref = stats.ks_2samp(a, b)
        assert ks_2samp(a, b) == (ref.statistic, ref.pvalue)
        # PSI: the reference's deciles (scipy.stats.mstats.mquantiles, type 7 = NumPy's default), counts per
        # bin by scipy.stats.binned_statistic, then the textbook sum Σ (c − r) · ln(c / r)
        inner = stats.mstats.mquantiles(a, np.linspace(0, 1, 11)[1:-1], alphap=1, betap=1)
        edges = np.concatenate([[-np.inf], np.asarray(inner), [np.inf]])
        r = stats.binned_statistic(a, a, "count", bins=edges).statistic / n
        c = stats.binned_statistic(b, b, "count", bins=edges).statistic / m
        r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
        assert psi(a, b) == pytest.approx(float(np.sum((c - r) * np.log(c / r))), rel=1e-12, abs=1e-15)


def test_psi_is_zero_for_identical_and_large_for_shifted_data() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=2000)
    assert psi(a, a) == pytest.approx(0.0, abs=1e-9)
    assert psi(a, a + 1.0) > 0.25
    assert psi(np.zeros(50), np.ones(50)) > 1.0  # a constant reference still measures a shift
    assert DriftThresholds().psi == 0.1
