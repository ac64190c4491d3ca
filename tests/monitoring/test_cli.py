"""`mlgate actuals record MODEL FILE` (CSV and JSON) joins actuals to predictions captured by a server on the
same MLGATE_HOME, reports unknown ids, and leaves its ledger row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.state.captures import CaptureStore
from mlgate.state.db import StateDB
from tests._support import mlgate_env
from tests._support.monitoring import FEATURES, Plain, make_settings, open_session, records, regression_data

pytestmark = pytest.mark.anyio
SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_cli(home: Path, plain: Plain, *args: str) -> subprocess.CompletedProcess[str]:
    env = mlgate_env(home, MLGATE_TRACKING_URI=plain.uri, MLGATE_TRUSTED_MODELS="mon-*")
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "mlgate", "actuals", "record", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_cli_records_csv_and_json(plain: Plain, tmp_path: Path) -> None:
    x, y = regression_data(3, seed=61)
    async with open_session(make_settings(plain, tmp_path)) as s:
        out = await s.ok(
            "ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES), "keys": ["k0", "k1", "k2"]}
        )
    ids = out["prediction_ids"]
    csv_file = tmp_path / "actuals.csv"
    csv_file.write_text(f"prediction_id,actual\n{ids[0]},{y[0]}\nmissing,1.5\n")
    done = run_cli(tmp_path, plain, "mon-reg", str(csv_file))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["recorded"], result["unknown"]) == (1, ["missing"])
    json_file = tmp_path / "actuals.json"
    json_file.write_text(
        json.dumps([{"key": "k1", "actual": float(y[1])}, {"key": "k2", "actual": float(y[2])}])
    )
    done = run_cli(tmp_path, plain, "mon-reg", str(json_file))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recorded"] == 2

    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    store = CaptureStore(db)
    for i, pid in enumerate(ids):
        row = store.get(pid)
        assert row is not None and row["actual"] == pytest.approx(float(y[i]))
    assert [r.tool for r in db.tail(5)].count("actuals.record") == 2
    db.close()


async def test_cli_records_for_a_token_subject_only_when_named(plain: Plain, tmp_path: Path) -> None:
    from mlgate.auth.caller import Caller
    from mlgate.serving import inference
    from mlgate.serving.runtime import Runtime

    rt = Runtime(make_settings(plain, tmp_path))
    x, y = regression_data(1, seed=62)
    agent = Caller("agent-7", "app", "http", frozenset({"ml:infer"}))
    out = await inference.predict(rt, "mon-reg@1", records(x, FEATURES), ["order-9"], caller=agent)
    await rt.aclose()
    file = tmp_path / "a.json"
    file.write_text(json.dumps({"order-9": float(y[0])}))
    done = run_cli(tmp_path, plain, "mon-reg", str(file))  # the local user's predictions: none with that key
    assert done.returncode == 0 and json.loads(done.stdout)["unknown"] == ["order-9"], done.stderr
    done = run_cli(tmp_path, plain, "mon-reg", str(file), "--subject", "agent-7")
    assert done.returncode == 0 and json.loads(done.stdout)["recorded"] == 1, done.stderr
    store = CaptureStore(StateDB(f"sqlite:///{tmp_path / 'state.db'}"))
    row = store.get(out.prediction_ids[0])
    assert row is not None and row["subject"] == "agent-7" and row["actual"] == pytest.approx(float(y[0]))
    store.db.close()
