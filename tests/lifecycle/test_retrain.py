"""ml_retrain: drift check, refit, same-holdout comparison, registration with lineage, gated promotion."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call
from tests._support.lifecycle import FEATURES, aliases, make_data, new_name, records, register_ridge, tags

pytestmark = pytest.mark.anyio
NEW_WEIGHTS = np.array([1.0, 1.0, -3.0, 2.0])


@pytest.fixture
def incumbent(settings: Settings) -> str:
    name = new_name()
    x, y = make_data(600, seed=0, noise=0.5)
    register_ridge(settings, name, x, y, alias="production")
    return name


def drifted_batch(n: int = 300) -> list[dict[str, Any]]:
    """The world moved: every feature shifted and the relationship changed."""
    x, y = make_data(n, seed=11, shift=2.0, weights=NEW_WEIGHTS, noise=0.5)
    return records(x, y)


async def test_retraining_on_drifted_data_registers_a_better_candidate_and_promotes_it(
    client: Any, settings: Settings, incumbent: str
) -> None:
    name = incumbent
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    batch = drifted_batch()
    err, out = await call(
        client,
        "ml_retrain",
        {"model": f"{name}@production", "data": batch, "target": "y"},
        progress_callback=on_progress,
    )
    assert not err, out
    assert out["retrained"] is True and out["promoted"] is True
    assert (
        out["drift_summary"]["drift_detected"] is True
        and out["drift_summary"]["drifted_features"] == FEATURES
    )
    assert out["incumbent"]["version"] == 1 and out["candidate"]["version"] == 2 and out["metric"] == "r2"
    inc, cand = out["metrics"]["incumbent"], out["metrics"]["candidate"]
    assert cand["r2"] > 0.95 and inc["r2"] < 0.5 and cand["mae"] < inc["mae"]
    canonical = json.dumps(batch, sort_keys=True, separators=(",", ":")).encode()
    assert out["data"] == {
        "source": "records",
        "digest": "sha256:" + hashlib.sha256(canonical).hexdigest(),
        "rows": 300,
        "train_rows": 240,
        "holdout_rows": 60,
    }
    assert out["promotion"]["archived"] == 1 and out["failed_gates"] == []
    assert any("the candidate is better" in d for d in out["decisions"])
    assert out["decisions"][-1].startswith("promoted:")

    assert aliases(settings, name) == {"production": 2}
    t2 = tags(settings, name, 2)
    assert t2["mlgate.parent"] == f"{name}@1" and t2["mlgate.data_digest"] == out["data"]["digest"]
    assert t2["mlgate.stage"] == "production" and json.loads(t2["mlgate.metrics"])["r2"] == pytest.approx(
        cand["r2"]
    )
    assert json.loads(t2["mlgate.drift"])["passed"] is True  # holdout vs the candidate's own training sample
    assert json.loads(tags(settings, name, 1)["mlgate.drift"])["passed"] is False
    assert tags(settings, name, 1)["mlgate.stage"] == "archived"

    row = dict(zip(FEATURES, [2.0, 2.0, 2.0, 2.0], strict=True))
    err, pred = await call(client, "ml_predict", {"model": f"{name}@production", "features": [row]})
    assert pred["model"]["version"] == 2 and pred["predictions"][0] == pytest.approx(2.0, abs=0.3)  # 2+2-6+4
    err, info = await call(client, "ml_model_info", {"model": f"{name}@2"})
    assert (
        info["lineage"]["mlgate.parent"] == f"{name}@1" and info["lineage"]["mlgate.data_source"] == "records"
    )
    assert [e["stage"] for e in info["stage_history"]] == ["development", "production"]

    assert len(progress) == 7 and progress[-1][0] == progress[-1][1] == 6
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)


async def test_a_worse_candidate_is_registered_but_not_promoted(client: Any, settings: Settings) -> None:
    # 40 features, an incumbent fitted on 3,000 rows; the new batch is 96 rows of the same world, so a
    # refit on its 48 training rows is far noisier than the incumbent on the same 48 holdout rows.
    name, names = new_name(), [f"f{i}" for i in range(40)]
    weights = np.linspace(-2, 2, 40)
    x, y = make_data(3000, seed=0, weights=weights, noise=1.0)
    register_ridge(settings, name, x, y, alias="production", names=names)
    xn, yn = make_data(96, seed=1, weights=weights, noise=1.0)
    err, out = await call(
        client,
        "ml_retrain",
        {"model": f"{name}@production", "data": records(xn, yn, names=names), "target": "y", "holdout": 0.5},
    )
    assert not err, out
    assert out["retrained"] is True and out["promoted"] is False and out["promotion"] is None
    assert out["drift_summary"]["drift_detected"] is False
    assert out["metrics"]["candidate"]["r2"] < out["metrics"]["incumbent"]["r2"] - 0.05
    assert out["candidate"]["version"] == 2 and "not better" in out["decisions"][-2]
    assert "stays in development" in out["decisions"][-1]
    assert aliases(settings, name) == {"production": 1}
    assert tags(settings, name, 2)["mlgate.stage"] == "development"


async def test_a_better_candidate_that_fails_a_gate_is_not_promoted(
    client: Any, settings: Settings, incumbent: str
) -> None:
    err, out = await call(
        client,
        "ml_retrain",
        {
            "model": f"{incumbent}@production",
            "data": drifted_batch(),
            "target": "y",
            "gates": {"min_r2": 0.99999, "max_mae": 100.0},
        },
    )
    assert not err, out
    assert out["retrained"] and out["promoted"] is False
    assert [g["gate"] for g in out["failed_gates"]] == ["min_r2"]
    assert out["failed_gates"][0]["actual"] == pytest.approx(out["metrics"]["candidate"]["r2"])
    assert out["decisions"][-1].startswith("not promoted: 1 gate(s) failed — min_r2: r2 is 0.")
    assert aliases(settings, incumbent) == {"production": 1}


async def test_promote_if_better_false_only_registers(
    client: Any, settings: Settings, incumbent: str
) -> None:
    err, out = await call(
        client,
        "ml_retrain",
        {
            "model": f"{incumbent}@1",
            "data": drifted_batch(100),
            "target": "y",
            "promote_if_better": False,
            "metric": "mae",
        },
    )
    assert not err and out["promoted"] is False and out["metric"] == "mae"
    assert "promote_if_better is false" in out["decisions"][-1]
    assert aliases(settings, incumbent) == {"production": 1}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
async def data_client(demo_home: Path, data_dir: Path) -> Any:
    rt = Runtime(Settings(home=demo_home, data_dir=data_dir))
    async with Client(build_server(rt)) as c:
        yield c
    await rt.aclose()


async def test_training_data_from_csv_and_parquet_under_the_data_folder(
    data_client: Any, data_dir: Path, incumbent: str
) -> None:
    import pandas as pd

    frame = pd.DataFrame(drifted_batch(120))
    (data_dir / "batches").mkdir()
    frame.to_csv(data_dir / "batches" / "new.csv", index=False)
    args = {"model": f"{incumbent}@1", "target": "y", "promote_if_better": False}
    err, out = await call(data_client, "ml_retrain", {**args, "data": "batches/new.csv"})
    assert not err, out
    digest = hashlib.sha256((data_dir / "batches" / "new.csv").read_bytes()).hexdigest()
    assert out["data"]["source"] == "batches/new.csv" and out["data"]["digest"] == f"sha256:{digest}"
    assert out["data"]["rows"] == 120 and out["retrained"]
    pytest.importorskip("pyarrow")
    frame.to_parquet(data_dir / "new.parquet")
    err, out = await call(data_client, "ml_retrain", {**args, "data": str(data_dir / "new.parquet")})
    assert not err and out["data"]["source"] == "new.parquet" and out["data"]["rows"] == 120


async def test_paths_outside_the_data_folder_are_refused(
    data_client: Any, client: Any, data_dir: Path, tmp_path: Path, incumbent: str
) -> None:
    outside = tmp_path / "outside.csv"
    pd_rows = "a,b,c,d,y\n" + "1,2,3,4,5\n" * 30
    outside.write_text(pd_rows)
    (data_dir / "link.csv").symlink_to(outside)
    (data_dir / "notes.txt").write_text(pd_rows)
    (data_dir / "nolabel.csv").write_text("a,b,c,d\n" + "1,2,3,4\n" * 30)
    base = {"model": f"{incumbent}@1", "target": "y"}
    for path, needle in [
        ("../outside.csv", "outside the data folder"),
        (str(outside), "outside the data folder"),
        ("link.csv", "outside the data folder"),
        ("missing.csv", "no file 'missing.csv'"),
        ("notes.txt", "CSV or Parquet"),
        ("nolabel.csv", "lacks column(s) 'y'"),
    ]:
        err, msg = await call(data_client, "ml_retrain", {**base, "data": path})
        assert err and needle in msg, (path, msg)
    err, msg = await call(client, "ml_retrain", {**base, "data": "new.csv"})  # no MLGATE_DATA_DIR
    assert err and "MLGATE_DATA_DIR is not set" in msg


async def test_retraining_a_classifier(client: Any, settings: Settings) -> None:
    from sklearn.linear_model import LogisticRegression

    from mlgate.models.registrar import Registrar

    name = new_name()
    rng = np.random.default_rng(0)
    centres = {"x": [0, 0, 0, 0], "y": [3, 3, 0, 0], "z": [0, 3, 3, 3]}
    labels = np.array([k for k in centres for _ in range(100)])
    x = np.vstack([rng.normal(c, 1.0, (100, 4)) for c in centres.values()])
    est = LogisticRegression(max_iter=500).fit(x, labels)
    Registrar(settings).register_sklearn(name, est, x, FEATURES, {"accuracy": 0.9}, alias="production")
    xn = np.vstack([rng.normal(c, 1.0, (40, 4)) for c in centres.values()])
    yn = np.array([k for k in centres for _ in range(40)])
    err, out = await call(
        client,
        "ml_retrain",
        {"model": f"{name}@production", "data": records(xn, yn), "target": "y", "promote_if_better": False},
    )
    assert not err, out
    assert out["metric"] == "accuracy" and set(out["metrics"]["candidate"]) == {"accuracy", "f1_macro"}
    assert out["metrics"]["candidate"]["accuracy"] > 0.8 and out["data"]["holdout_rows"] == 24
    err, cls = await call(
        client, "ml_classify", {"model": f"{name}@2", "features": [dict.fromkeys(FEATURES, 0.0)]}
    )
    assert not err and cls["labels"] == ["x"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"model": "demo-forecaster@1"}, "scikit-learn models only"),
        ({"model": "demo-sentiment@1"}, "takes text"),
        ({"metric": "accuracy"}, "metric 'accuracy' is not computed"),
        ({"holdout": 0.9}, "holdout"),
        ({"data": records(*make_data(10, seed=1))}, "too few"),
        ({"target": "a"}, "is one of the model's features"),
        ({"data": [{**dict.fromkeys(FEATURES, 1.0), "y": "high"}] * 30}, "must be a finite number"),
        ({"gates": {"min_r2": "x"}}, "gates"),
    ],
)
async def test_bad_retrain_requests_refused(
    client: Any, settings: Settings, incumbent: str, args: dict[str, Any], needle: str
) -> None:
    from mlgate.models.resolvers import MlflowResolver

    base = {"model": f"{incumbent}@1", "data": drifted_batch(40), "target": "y"}
    err, msg = await call(client, "ml_retrain", {**base, **args})
    assert err and needle in msg, msg
    versions = MlflowResolver(settings).registry.versions(incumbent)
    assert [v.version for v in versions] == [1]  # refused before anything was registered


def as_columns(recs: list[dict[str, Any]]) -> dict[str, Any]:
    cols = list(recs[0])
    return {"columns": cols, "rows": [[r[c] for c in cols] for r in recs]}


async def test_the_same_rows_in_columns_retrain_and_check_drift_as_records_do(
    client: Any, settings: Settings, incumbent: str
) -> None:
    """``data`` and ``current`` also take ``{"columns", "rows"}``: the drift answer, the candidate's metrics
    and the recorded data digests are those of the same rows sent as records (a digest is of the rows, not
    of the form they came in)."""
    from mlgate.artifacts import json_sha256
    from mlgate.lifecycle.gates import TAG_DRIFT

    batch = drifted_batch(120)
    current = [{k: v for k, v in r.items() if k != "y"} for r in batch]
    drift = []
    for form in (current, as_columns(current)):
        err, out = await call(client, "ml_drift", {"model": f"{incumbent}@1", "current": form})
        assert not err and out["recorded"] is True, out
        drift.append(
            (out["feature_drift"], out["drift_detected"], json.loads(tags(settings, incumbent, 1)[TAG_DRIFT]))
        )
    assert drift[0][:2] == drift[1][:2] and drift[0][1] is True
    assert drift[0][2]["data_digest"] == drift[1][2]["data_digest"] == json_sha256(current)

    trained = []
    for form in (batch, as_columns(batch)):
        args = {"model": f"{incumbent}@1", "data": form, "target": "y", "promote_if_better": False}
        err, out = await call(client, "ml_retrain", args)
        assert not err and out["retrained"] is True, out
        v = out["candidate"]["version"]
        trained.append((out["metrics"], tags(settings, incumbent, v)["mlgate.data_digest"]))
    assert trained[0] == trained[1] and trained[0][1] == f"sha256:{json_sha256(batch)}"
