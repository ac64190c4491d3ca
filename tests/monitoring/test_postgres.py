"""The capture tables on a real PostgreSQL (initdb'd in a temporary folder, as tests/scaleout does): capture
through ml_predict, actuals by id and by key, live metrics, alerts, retention."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from sklearn.metrics import mean_absolute_error

from tests._support import free_port
from tests._support.monitoring import FEATURES, Plain, make_settings, open_session, records, regression_data

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from tests.scaleout.services import Postgres, SkipService

    try:
        pg = Postgres(free_port())
    except (SkipService, RuntimeError) as exc:
        pytest.skip(f"no PostgreSQL here: {exc}")
    try:
        yield pg.create(f"captures_{uuid.uuid4().hex[:8]}")
    finally:
        pg.stop()


async def test_capture_and_actuals_on_postgres(plain: Plain, tmp_path: Path, pg_url: str) -> None:
    from mlgate.state.captures import Capture

    rules = {"mon-reg": {"max_mae": 1.0, "min_actuals": 5}}
    settings = make_settings(plain, tmp_path, state_url=pg_url, quality_rules=rules)
    async with open_session(settings) as s:
        x, y = regression_data(8, seed=71)
        keys = [f"pg-{i}" for i in range(8)]
        out = await s.ok("ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES), "keys": keys})
        ids = out["prediction_ids"]
        actuals = {
            **{ids[i]: float(y[i]) + 5 for i in range(4)},
            **{keys[i]: float(y[i]) + 5 for i in range(4, 8)},
        }
        res = await s.ok("ml_record_actuals", {"model": "mon-reg", "actuals": {**actuals, "nope": 0.0}})
        assert (res["recorded"], res["unknown"]) == (8, ["nope"])
        assert [d["rule"] for d in res["degraded"]] == ["max_mae"]
        perf = await s.ok("ml_performance", {"model": "mon-reg"})
        assert perf["versions"][0]["live"]["mae"] == pytest.approx(
            mean_absolute_error(y + 5, out["predictions"])
        )
        assert perf["versions"][0]["alerts"]
        store = s.rt.captures.store
        old = Capture("e" * 32, None, "mon-reg", 1, None, "predictor", time.time() - 200 * 86400, 1.0)
        await anyio.to_thread.run_sync(store.insert_many, [old])
        await anyio.to_thread.run_sync(s.rt.captures.purge)
        assert store.get("e" * 32) is None and store.get(ids[0]) is not None
