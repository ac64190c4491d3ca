"""Live quality from running sums: ml_segment and ml_analyze captured and scored, a non-aligned window and
retention give the same numbers as a full recomputation over the remaining rows, and ml_performance on an
unknown model is NotFound."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from mcp import Client
from sklearn.metrics import mean_absolute_error

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from mlgate.state.captures import Capture, CaptureStore, Subjects
from mlgate.state.quality_sums import row_stats
from tests._support import tool_payload
from tests._support.monitoring import Session

pytestmark = pytest.mark.anyio
LOCAL = Subjects(frozenset({"local"}))


async def test_segment_and_analyze_are_captured_and_scored(demo_home: Path, tmp_path: Path) -> None:
    from mlgate.adapters.changepoint import make_demo_series

    settings = Settings(home=demo_home, state_url=f"sqlite:///{tmp_path / 's.db'}",
                        capture=["demo-segmenter", "demo-sentiment"])  # fmt: skip
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:

        async def ok(tool: str, args: dict[str, Any]) -> Any:
            err, out = tool_payload(await c.call_tool(tool, args))
            assert not err, out
            return out

        series, true = make_demo_series(seed=4)
        seg = await ok("ml_segment", {"model": "demo-segmenter@1", "series": series, "key": "plant-7"})
        assert len(seg["prediction_ids"]) == 1
        texts = ["Great battery life", "The support never answered", "Fine"]
        ana = await ok(
            "ml_analyze", {"model": "demo-sentiment@1", "texts": texts, "keys": ["t0", "t1", "t2"]}
        )
        assert len(ana["prediction_ids"]) == 3
        labels = [r["label"] for r in ana["results"]]

        res = await ok("ml_record_actuals", {"model": "demo-segmenter", "actuals": {"plant-7": true}})
        assert res["recorded"] == 1
        (v,) = (await ok("ml_performance", {"model": "demo-segmenter"}))["versions"]
        found = sum(any(abs(b - t) <= 5 for b in seg["breakpoints"]) for t in true)
        assert v["kind"] == "segmenter" and v["matched"] == 1
        assert v["live"]["breakpoint_recall"] == pytest.approx(found / len(true))
        assert v["live"]["breakpoint_precision"] == pytest.approx(found / len(seg["breakpoints"]))

        wrong = "no-such-label"
        actuals = {"t0": labels[0], ana["prediction_ids"][1]: labels[1], "t2": wrong}
        res = await ok("ml_record_actuals", {"model": "demo-sentiment", "actuals": actuals})
        assert res["recorded"] == 3
        (v,) = (await ok("ml_performance", {"model": "demo-sentiment"}))["versions"]
        assert v["kind"] == "analyzer" and v["matched"] == 3
        assert v["live"]["accuracy"] == pytest.approx(2 / 3)
        assert sum(b["count"] for b in v["calibration"]) == 3
    await rt.aclose()


async def test_unknown_model_is_not_found(session: Session) -> None:
    err, msg = await session.call("ml_performance", {"model": "no-such-model"})
    assert err and "no-such-model" in msg and "ml_list_models" in msg
    err, msg = await session.call("ml_record_actuals", {"model": "no-such-model", "actuals": {"a": 1.0}})
    assert err and "no-such-model" in msg


def _recomputed(store: CaptureStore, since: float | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in store.matched("m", since):
        for k, v in row_stats(m.kind, m.prediction, m.actual).items():
            out[k] = out.get(k, 0.0) + v
    return out


def test_sums_equal_a_full_recomputation_across_windows_replacements_and_retention(tmp_path: Path) -> None:
    from mlgate.state.db import StateDB

    store = CaptureStore(StateDB(f"sqlite:///{tmp_path / 's.db'}"))
    now = time.time()
    rng = np.random.default_rng(7)
    ages = np.concatenate([rng.uniform(0, 5 * 3600, 40), rng.uniform(2 * 86400, 3 * 86400, 20)])
    rows = [Capture(f"r{i}", f"k{i}", "m", 1, None, "predictor", now - a, float(rng.normal(10, 2)), None, "local")
            for i, a in enumerate(ages)]  # fmt: skip
    store.insert_many(rows)
    truth = {r.id: float(r.prediction) + float(rng.normal(0, 1)) for r in rows}
    store.record_actuals("m", truth, LOCAL)
    store.record_actuals("m", {"k3": 99.0, "r4": -5.0}, LOCAL)  # replacements: the old ones taken away
    for since in (None, now - 90 * 60, now - 86400 * 2.5, now - 7200.5):
        (got,) = store.quality("m", since).values()
        want = _recomputed(store, since)
        assert got.keys() == want.keys() and all(got[k] == pytest.approx(want[k]) for k in want), since
    live = [m for m in store.matched("m", now - 90 * 60)]
    y, p = [m.actual for m in live], [m.prediction for m in live]
    from mlgate.lifecycle.quality import live_metrics

    metrics, _, n = live_metrics("predictor", store.quality("m", now - 90 * 60)[(1, "predictor")])
    assert n == len(live) and metrics["mae"] == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    purged = store.purge(now - 86400)  # the rows of two to three days ago go, with their sums
    assert purged == 20
    (got,) = store.quality("m").values()
    want = _recomputed(store, None)
    assert got["n"] == 40 and all(got[k] == pytest.approx(want[k]) for k in want)


async def test_existing_actuals_are_summed_when_the_table_is_new(tmp_path: Path) -> None:
    """A database from before the running sums: opening it sums the actuals already recorded, once."""
    import sqlalchemy as sa

    from mlgate.state.db import StateDB

    db = StateDB(f"sqlite:///{tmp_path / 's.db'}")
    store = CaptureStore(db)
    store.insert_many([Capture("a", None, "m", 1, None, "predictor", time.time(), 3.0, None, "local")])
    store.record_actuals("m", {"a": 5.0}, LOCAL)
    with db.write() as conn:
        conn.execute(sa.text("DROP TABLE quality_sums"))
    again = await anyio.to_thread.run_sync(CaptureStore, db)
    assert again.quality("m")[(1, "predictor")]["abs"] == 2.0
    assert CaptureStore(db).quality("m")[(1, "predictor")]["n"] == 1.0  # a second open adds nothing
