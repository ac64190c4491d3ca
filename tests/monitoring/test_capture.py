"""Capture and actuals through the MCP tools: ids per record, keys, unknown ids, duplicates, input capture,
capture off, scopes, retention."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, root_mean_squared_error

from tests._support import wait_until
from tests._support.monitoring import (
    FEATURES,
    Plain,
    Session,
    make_settings,
    open_session,
    records,
    regression_data,
)

pytestmark = pytest.mark.anyio


async def test_predictions_captured_and_actuals_joined_by_id(session: Session, plain: Plain) -> None:
    x, y = regression_data(30, seed=11)
    out = await session.ok("ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES)})
    ids = out["prediction_ids"]
    assert len(ids) == 30 and len(set(ids)) == 30
    preds = np.array(out["predictions"])
    np.testing.assert_allclose(
        preds, plain.fitted["mon-reg"].predict(pd.DataFrame(x, columns=FEATURES)), rtol=1e-9
    )

    res = await session.ok(
        "ml_record_actuals", {"model": "mon-reg", "actuals": dict(zip(ids, y.tolist(), strict=True))}
    )
    assert (res["recorded"], res["duplicates"], res["unknown"]) == (30, 0, [])

    perf = await session.ok("ml_performance", {"model": "mon-reg"})
    (v,) = perf["versions"]
    assert (v["version"], v["kind"], v["predictions"], v["matched"]) == (1, "predictor", 30, 30)
    assert v["live"]["mae"] == pytest.approx(mean_absolute_error(y, preds), rel=1e-12)
    assert v["live"]["rmse"] == pytest.approx(root_mean_squared_error(y, preds), rel=1e-12)
    assert v["live"]["mape"] == pytest.approx(mean_absolute_percentage_error(y, preds), rel=1e-12)
    info = await session.ok("ml_model_info", {"model": "mon-reg@1"})
    assert v["registered"]["mae"] == pytest.approx(info["metrics"]["mae"])

    stored = session.rt.captures.store.get(ids[0])
    assert stored is not None
    assert (
        stored["model"] == "mon-reg" and stored["version"] == 1 and stored["digest"] == out["model"]["sha256"]
    )
    assert stored["prediction"] == pytest.approx(preds[0]) and stored["inputs"] == records(x[:1], FEATURES)[0]


async def test_actuals_by_key_duplicates_and_unknown_ids(session: Session) -> None:
    x, y = regression_data(4, seed=12)
    keys = [f"order-{i}" for i in range(4)]
    out = await session.ok(
        "ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES), "keys": keys}
    )
    preds = np.array(out["predictions"])
    first = {k: float(v) for k, v in zip(keys, y, strict=True)}
    res = await session.ok(
        "ml_record_actuals", {"model": "mon-reg", "actuals": {**first, "nope": 1.0, "f" * 32: 2.0}}
    )
    assert (
        res["recorded"] == 4
        and res["duplicates"] == 0
        and sorted(res["unknown"]) == sorted(["nope", "f" * 32])
    )
    # a late correction of two of them: last write wins, counted as duplicates
    late = {keys[0]: float(y[0]) + 4.0, out["prediction_ids"][1]: float(y[1]) - 2.0}
    res = await session.ok("ml_record_actuals", {"model": "mon-reg", "actuals": late})
    assert (res["recorded"], res["duplicates"], res["unknown"]) == (2, 2, [])
    truth = y.copy()
    truth[0] += 4.0
    truth[1] -= 2.0
    perf = await session.ok("ml_performance", {"model": "mon-reg@1", "window": "1h"})
    assert perf["versions"][0]["live"]["mae"] == pytest.approx(mean_absolute_error(truth, preds), rel=1e-12)
    # another model's ids are unknown to this one
    res = await session.ok("ml_record_actuals", {"model": "mon-cls", "actuals": {keys[2]: "low"}})
    assert res["recorded"] == 0 and res["unknown"] == [keys[2]]


async def test_keys_must_match_records(session: Session) -> None:
    x, _ = regression_data(2, seed=13)
    err, msg = await session.call(
        "ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES), "keys": ["a"]}
    )
    assert err and "keys has 1 items for 2 records" in msg


async def test_capture_off_stores_nothing(plain: Plain, tmp_path: Path) -> None:
    async with open_session(make_settings(plain, tmp_path, capture=[])) as s:
        x, _ = regression_data(3, seed=14)
        out = await s.ok(
            "ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES), "keys": ["a", "b", "c"]}
        )
        assert out["prediction_ids"] == []
        assert any("does not capture" in w for w in out["warnings"])
        res = await s.ok("ml_record_actuals", {"model": "mon-reg", "actuals": {"a": 1.0}})
        assert res["recorded"] == 0 and res["unknown"] == ["a"]
        assert s.rt.captures.store.total() == 0


async def test_inputs_kept_only_when_switched_on(plain: Plain, tmp_path: Path) -> None:
    async with open_session(make_settings(plain, tmp_path, capture_inputs=False)) as s:
        x, _ = regression_data(2, seed=15)
        out = await s.ok("ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES)})
        await anyio.to_thread.run_sync(s.rt.captures.flush_blocking)
        row = s.rt.captures.store.get(out["prediction_ids"][0])
        assert (
            row is not None
            and row["inputs"] is None
            and row["prediction"] == pytest.approx(out["predictions"][0])
        )


async def test_recording_actuals_needs_ml_manage(plain: Plain, tmp_path: Path) -> None:
    async with open_session(make_settings(plain, tmp_path, stdio_scopes=["ml:read", "ml:infer"])) as s:
        x, _ = regression_data(1, seed=16)
        out = await s.ok("ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES)})
        err, msg = await s.call(
            "ml_record_actuals", {"model": "mon-reg", "actuals": {out["prediction_ids"][0]: 1.0}}
        )
        assert err and "ml:manage" in msg
        await anyio.to_thread.run_sync(s.rt.captures.flush_blocking)
        row = s.rt.captures.store.get(out["prediction_ids"][0])
        assert row is not None and row["actual"] is None  # refused before it touched anything
        perf = await s.ok("ml_performance", {"model": "mon-reg"})  # ml:read is enough to look
        assert perf["versions"][0]["matched"] == 0


async def test_retention_deletes_old_rows(plain: Plain, tmp_path: Path) -> None:
    from mlgate.state.captures import Capture

    async with open_session(make_settings(plain, tmp_path, capture_retention_days=1.0)) as s:
        x, y = regression_data(2, seed=17)
        out = await s.ok("ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES)})
        store = s.rt.captures.store
        old = Capture("0" * 32, "old", "mon-reg", 1, None, "predictor", time.time() - 2 * 86400, 1.0)
        await anyio.to_thread.run_sync(store.insert_many, [old])
        await anyio.to_thread.run_sync(s.rt.captures.flush_blocking)
        await anyio.to_thread.run_sync(s.rt.captures.purge)  # (the writer may have purged it first)
        assert await anyio.to_thread.run_sync(store.total) == 2
        assert store.get("0" * 32) is None and store.get(out["prediction_ids"][0]) is not None
        res = await s.ok(
            "ml_record_actuals",
            {"model": "mon-reg", "actuals": {"old": 1.0, out["prediction_ids"][0]: float(y[0])}},
        )
        assert res["unknown"] == ["old"] and res["recorded"] == 1


async def test_retention_is_enforced_by_the_writer(plain: Plain, tmp_path: Path) -> None:
    """A new writer purges at start: rows older than the retention are gone without anyone asking."""
    from mlgate.serving.runtime import Runtime
    from mlgate.state.captures import Capture

    settings = make_settings(plain, tmp_path, capture_retention_days=0.5)
    rt = Runtime(settings)
    rows = [
        Capture(f"{i:032x}", None, "mon-reg", 1, None, "predictor", time.time() - 86400 * (i % 2), 1.0)
        for i in range(6)
    ]
    rt.captures.store.insert_many(rows)  # opens the store: its writer purges on its first round
    wait_until(lambda: rt.captures.store.total() == 3, every=0.05, what="the writer purged the old rows")
    await rt.aclose()


async def test_version_tag_opts_in(plain: Plain, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    MlflowClient(plain.uri, plain.uri).set_model_version_tag("mon-cls", "1", "mlgate.capture", "true")
    try:
        async with open_session(make_settings(plain, tmp_path, capture=[])) as s:
            out = await s.ok("ml_classify", {"model": "mon-cls@1", "features": [{"x1": 0.1, "x2": 0.2}]})
            assert len(out["prediction_ids"]) == 1
            out = await s.ok(
                "ml_predict", {"model": "mon-reg@1", "features": records(np.zeros((1, 4)), FEATURES)}
            )
            assert out["prediction_ids"] == []
    finally:
        MlflowClient(plain.uri, plain.uri).delete_model_version_tag("mon-cls", "1", "mlgate.capture")


def test_non_finite_predictions_are_stored_as_null(tmp_path: Path) -> None:
    from mlgate.state.captures import Capture, CaptureStore
    from mlgate.state.db import StateDB

    store = CaptureStore(StateDB(f"sqlite:///{tmp_path / 's.db'}"))
    row = Capture("a" * 32, None, "m", 1, None, "forecaster", time.time(), {"forecast": [1.0, float("nan")]},
                  {"history": [float("inf")]})  # fmt: skip
    store.insert_many([row])
    got = store.get("a" * 32)
    assert (
        got is not None
        and got["prediction"] == {"forecast": [1.0, None]}
        and got["inputs"] == {"history": [None]}
    )
