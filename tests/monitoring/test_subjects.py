"""Captures are bound to the token subject that made them: a second subject squatting another's keys
(wild records under the same keys, made later) gets none of its actuals, cannot record actuals for the
other's ids (unknown), and raises no degradation alert; an operator-declared group shares; rows from before
subjects were kept stay readable (an administrator's to join)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error

from mlgate.auth.caller import Caller
from mlgate.lifecycle.degradation import record_actuals
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from tests._support.monitoring import FEATURES, Plain, make_settings, records, regression_data

pytestmark = pytest.mark.anyio
RULES = {"mon-reg": {"max_mae": 1.0, "min_actuals": 5}}
ALL = frozenset({"ml:read", "ml:infer", "ml:manage"})
ALICE = Caller("alice", "alice-app", "http", ALL)
BOB = Caller("bob", "bob-app", "http", frozenset({"ml:read", "ml:infer"}))
BOB_MANAGE = Caller("bob", "bob-app", "http", ALL)
PIPELINE = Caller("pipeline", "etl", "http", ALL)


async def _squatted(rt: Runtime) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Alice predicts 8 records under keys k0…k7; then Bob predicts wild records under the same keys."""
    x, y = regression_data(8, seed=91)
    keys = [f"k{i}" for i in range(8)]
    mine = await inference.predict(rt, "mon-reg@1", records(x, FEATURES), keys, caller=ALICE)
    wild = await inference.predict(rt, "mon-reg@1", records(x * 50.0, FEATURES), keys, caller=BOB)
    return mine.prediction_ids, wild.prediction_ids, np.asarray(mine.predictions), y


async def test_a_squatter_gets_none_of_the_actuals(plain: Plain, tmp_path: Path) -> None:
    rt = Runtime(make_settings(plain, tmp_path, quality_rules=RULES))
    try:
        a_ids, b_ids, preds, y = await _squatted(rt)
        keyed = {f"k{i}": float(v) for i, v in enumerate(y)}
        res = await record_actuals(rt, "mon-reg", keyed, caller=ALICE)
        assert (res.recorded, res.unknown, res.degraded) == (8, [], [])
        store = rt.captures.store
        for a, b in zip(a_ids, b_ids, strict=True):
            mine, wild = store.get(a), store.get(b)
            assert mine is not None and mine["subject"] == "alice" and mine["actual"] is not None
            assert wild is not None and wild["subject"] == "bob" and wild["actual"] is None
        assert rt.captures.warnings("mon-reg", 1) == []  # no alert from Bob's wild rows
        perf = await anyio.to_thread.run_sync(lambda: store.matched("mon-reg"))
        assert len(perf) == 8
        live = mean_absolute_error(y, preds)
        assert live < 1.0 and np.mean(np.abs([m.actual - m.prediction for m in perf])) == pytest.approx(live)

        # Bob (given ml:manage) cannot attach actuals to Alice's ids: unknown, nothing written
        res = await record_actuals(rt, "mon-reg", dict.fromkeys(a_ids, 1e6), caller=BOB_MANAGE)
        assert (res.recorded, sorted(res.unknown), res.degraded) == (0, sorted(a_ids), [])
        assert all(store.get(a)["actual"] == pytest.approx(y[i]) for i, a in enumerate(a_ids))  # type: ignore[index]
        out = await inference.predict(rt, "mon-reg@1", records(np.zeros((1, 4)), FEATURES), caller=ALICE)
        assert not any("quality degraded" in w for w in out.warnings)
        # …and his keys join his own predictions only
        res = await record_actuals(rt, "mon-reg", {"k0": 1e6}, caller=BOB_MANAGE)
        assert res.recorded == 1 and store.get(a_ids[0])["actual"] == pytest.approx(y[0])  # type: ignore[index]
        assert store.get(b_ids[0])["actual"] == 1e6  # type: ignore[index]
    finally:
        await rt.aclose()


async def test_control_the_same_subject_s_wild_rows_do_fire(plain: Plain, tmp_path: Path) -> None:
    """The attack the binding stops: actuals recorded for the same keys by the subject that owns both
    predictions join the newest one (here: one subject predicting twice), and the wild row fires the rule."""
    rt = Runtime(make_settings(plain, tmp_path, quality_rules=RULES))
    try:
        x, y = regression_data(8, seed=92)
        keys = [f"k{i}" for i in range(8)]
        await inference.predict(rt, "mon-reg@1", records(x, FEATURES), keys, caller=ALICE)
        await inference.predict(rt, "mon-reg@1", records(x * 50.0, FEATURES), keys, caller=ALICE)
        res = await record_actuals(
            rt, "mon-reg", {k: float(v) for k, v in zip(keys, y, strict=True)}, caller=ALICE
        )
        assert [d.rule for d in res.degraded] == [
            "max_mae"
        ]  # the rule and join are live: the test above means it
    finally:
        await rt.aclose()


async def test_a_declared_group_shares_its_captures(plain: Plain, tmp_path: Path) -> None:
    groups = {"alice": "churn-team", "pipeline": "churn-team"}
    rt = Runtime(make_settings(plain, tmp_path, quality_rules=RULES, capture_groups=groups))
    try:
        a_ids, b_ids, _, y = await _squatted(rt)
        res = await record_actuals(
            rt, "mon-reg", {f"k{i}": float(v) for i, v in enumerate(y)}, caller=PIPELINE
        )
        assert (res.recorded, res.degraded) == (8, [])
        store = rt.captures.store
        assert all(store.get(a)["actual"] is not None for a in a_ids)  # type: ignore[index]
        assert all(store.get(b)["actual"] is None for b in b_ids)  # type: ignore[index]
        # outside the group: unknown
        res = await record_actuals(rt, "mon-reg", {a_ids[0]: 1.0}, caller=BOB_MANAGE)
        assert res.unknown == [a_ids[0]]
    finally:
        await rt.aclose()


async def test_rows_from_before_subjects_stay_readable(plain: Plain, tmp_path: Path) -> None:
    """A captures table of the previous release (no subject column) gains the column on open; its rows are
    read as before and joined only by an administrator."""
    settings = make_settings(plain, tmp_path)
    db = sqlite3.connect(settings.home / "state.db")
    db.execute(
        "CREATE TABLE captures (id VARCHAR(32) PRIMARY KEY, key VARCHAR(200), model VARCHAR(300) NOT NULL, "
        "version INTEGER NOT NULL, digest VARCHAR(64), kind VARCHAR(16) NOT NULL, at FLOAT NOT NULL, "
        "prediction JSON NOT NULL, inputs JSON, actual JSON, actual_at FLOAT, actual_count INTEGER NOT NULL)"
    )
    db.execute(
        "INSERT INTO captures VALUES ('old1', 'legacy-key', 'mon-reg', 1, NULL, 'predictor', ?, '12.5', NULL, "
        "NULL, NULL, 0)",
        (time.time(),),
    )
    db.commit()
    db.close()
    rt = Runtime(settings)
    try:
        store = rt.captures.store
        row = store.get("old1")
        assert row is not None and row["subject"] is None and row["prediction"] == 12.5
        res = await record_actuals(rt, "mon-reg", {"legacy-key": 13.0}, caller=ALICE)
        assert res.unknown == ["legacy-key"]
        admin = Caller("ops", "console", "http", frozenset({"ml:admin"}))
        res = await record_actuals(rt, "mon-reg", {"legacy-key": 13.0}, caller=admin)
        assert res.recorded == 1 and store.get("old1")["actual"] == 13.0  # type: ignore[index]
    finally:
        await rt.aclose()
