"""Live metrics equal scikit-learn's on the same arrays: classifier (accuracy, log-loss, Brier, calibration)
and forecaster (MAE, coverage per level, pinball loss)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, mean_absolute_error, mean_pinball_loss

from tests._support.monitoring import Plain, Session, classification_data, records

pytestmark = pytest.mark.anyio


async def test_classifier_metrics_equal_sklearn(session: Session, plain: Plain) -> None:
    x, y = classification_data(60, seed=21)
    out = await session.ok("ml_classify", {"model": "mon-cls@1", "features": records(x, ["x1", "x2"])})
    ids = out["prediction_ids"]
    y[:5] = "low"  # some plainly wrong, so accuracy is below 1
    res = await session.ok(
        "ml_record_actuals", {"model": "mon-cls", "actuals": dict(zip(ids, y.tolist(), strict=True))}
    )
    assert res["recorded"] == 60

    est = plain.fitted["mon-cls"]
    classes = [str(c) for c in est.classes_]
    proba = np.array([[p[c] for c in sorted(classes)] for p in out["probabilities"]])
    np.testing.assert_allclose(
        proba, est.predict_proba(pd.DataFrame(x, columns=["x1", "x2"]))[:, np.argsort(classes)], rtol=1e-9
    )
    perf = await session.ok("ml_performance", {"model": "mon-cls"})
    (v,) = perf["versions"]
    assert v["kind"] == "classifier" and v["matched"] == 60
    assert v["live"]["accuracy"] == pytest.approx(accuracy_score(y, out["labels"]), rel=1e-12)
    assert v["live"]["log_loss"] == pytest.approx(log_loss(y, proba, labels=sorted(classes)), rel=1e-9)
    assert v["live"]["brier"] == pytest.approx(brier_score_loss(y, proba, labels=sorted(classes)), rel=1e-9)
    assert v["registered"]["accuracy"] > 0.5
    bins = v["calibration"]
    assert sum(b["count"] for b in bins) == 60
    conf = proba.max(axis=1)
    correct = np.array(out["labels"]) == y
    ece = sum(b["count"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / 60
    assert v["live"]["ece"] == pytest.approx(ece)
    for b in bins:  # each bin's numbers are its members' mean confidence and accuracy
        inside = (conf > b["lower"]) & (conf <= b["upper"])
        assert b["count"] == inside.sum()
        assert b["confidence"] == pytest.approx(conf[inside].mean())
        assert b["accuracy"] == pytest.approx(correct[inside].mean())


async def test_forecaster_coverage_per_level_and_pinball(session: Session, plain: Plain) -> None:
    out = await session.ok(
        "ml_forecast", {"model": "mon-fc@1", "horizon": 6, "levels": [0.5, 0.95], "key": "2024-h1"}
    )
    (fid,) = out["prediction_ids"]
    point = np.array(out["forecast"])
    rng = np.random.default_rng(5)
    actual = point + rng.normal(0, 3.0, 6)
    actual[5] = point[5] + 100.0  # far outside every interval
    # five steps observed so far (the last one comes later), the sixth by key as a late actual
    res = await session.ok("ml_record_actuals", {"model": "mon-fc", "actuals": {fid: actual[:5].tolist()}})
    assert res["recorded"] == 1
    res = await session.ok("ml_record_actuals", {"model": "mon-fc", "actuals": {"2024-h1": actual.tolist()}})
    assert (res["recorded"], res["duplicates"]) == (1, 1)

    perf = await session.ok("ml_performance", {"model": "mon-fc"})
    (v,) = perf["versions"]
    live = v["live"]
    assert v["kind"] == "forecaster" and v["matched"] == 1
    assert live["mae"] == pytest.approx(mean_absolute_error(actual, point))
    assert live["pinball_0.5"] == pytest.approx(mean_pinball_loss(actual, point, alpha=0.5))
    for band in out["intervals"]:
        level, lo, hi = band["level"], np.array(band["lower"]), np.array(band["upper"])
        name = f"{level * 100:g}"
        assert live[f"coverage_{name}"] == pytest.approx(np.mean((actual >= lo) & (actual <= hi)))
        assert live[f"pinball_{(1 - level) / 2:g}"] == pytest.approx(
            mean_pinball_loss(actual, lo, alpha=(1 - level) / 2)
        )
        assert live[f"pinball_{(1 + level) / 2:g}"] == pytest.approx(
            mean_pinball_loss(actual, hi, alpha=(1 + level) / 2)
        )
    assert live["coverage_95"] <= 5 / 6 and live["coverage_50"] < live["coverage_95"]
    assert v["registered"]["mae"] > 0


async def test_window_and_bad_window(session: Session) -> None:
    err, msg = await session.call("ml_performance", {"model": "mon-reg", "window": "soon"})
    assert err and "'24h'" in msg
    perf = await session.ok("ml_performance", {"model": "mon-reg", "window": "7d"})
    assert perf["window"] == "7d" and perf["versions"] == []
