"""A registry built only with plain MLflow calls, as a team that never heard of mlgate would fill it.

``mlflow.<flavor>.log_model(..., registered_model_name=…)`` into a SQLite tracking store in a
temporary folder, tiny data and few trees so the whole session builds in seconds. Each entry
keeps the fitted object so tests can compare mlgate's numbers with the library's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._support import mlflow_db

REGIONS = ["north", "south", "east"]


@dataclass
class Logged:
    name: str
    path: Path  # the version's local model folder, as the resolver downloads it
    model: Any  # the fitted object, for the library's own predict / predict_proba
    frame: Any  # a few rows of inputs as a DataFrame (test rows, not the stored example)
    metrics: dict[str, float]  # logged with mlflow.log_metric in the version's own run


def _data(n: int = 80) -> Any:
    import pandas as pd

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "bmi": rng.normal(25, 4, n),
            "region": rng.choice(REGIONS, n),
            "visits": rng.integers(0, 12, n).astype("int64"),
            "smoker": rng.random(n) > 0.6,
        }
    )
    y = 0.3 * frame.age + 1.5 * frame.bmi + 4.0 * (frame.region == "south") + rng.normal(0, 1, n)
    return frame, np.asarray(y), np.asarray(y > np.median(y)).astype(int)


@pytest.fixture(scope="session")
def registry_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the plain-MLflow registry: its tracking URI is ``sqlite:///{root}/mlflow.db``."""
    return tmp_path_factory.mktemp("plain-mlflow")


@pytest.fixture(scope="session")
def registry(registry_root: Path) -> Iterator[dict[str, Logged]]:
    old = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        yield build_registry(registry_root)
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old


def build_registry(root: Path) -> dict[str, Logged]:
    """Log and register every test model under ``root`` (also used by bench/flavors.py)."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    uri = mlflow_db(root)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # process-wide: an earlier Registrar may have pointed it at another registry
    exp = mlflow.create_experiment("teams", artifact_location=(root / "artifacts").as_uri())
    frame, y, label = _data()
    num = frame[["age", "bmi"]]
    test = frame.iloc[-7:]
    out: dict[str, Logged] = {}
    client = MlflowClient(tracking_uri=uri)

    def log(name: str, flavor: Any, model: Any, x: Any, metrics: dict[str, float], **kw: Any) -> None:
        kw.setdefault("input_example", x.iloc[:3] if hasattr(x, "iloc") else x[:3])
        kw.setdefault("pip_requirements", ["mlflow"])  # MLflow's own inference imports every library: slow
        with mlflow.start_run(experiment_id=exp, run_name=name):  # one run per model, as teams do
            mlflow.log_metrics(metrics)
            flavor.log_model(model, name="model", registered_model_name=name, **kw)
        client.set_registered_model_alias(name, "production", "1")
        path = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/1"))
        out[name] = Logged(name, path, model, test[list(x.columns)] if hasattr(x, "columns") else x, metrics)

    def r2(model: Any, x: Any) -> dict[str, float]:
        return {"r2": float(model.score(x, y)), "rows": float(len(x))}

    def accuracy(model: Any, x: Any, target: Any) -> dict[str, float]:
        return {"accuracy": float(np.mean(model.predict(x) == target)), "rows": float(len(x))}

    import catboost
    import lightgbm
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pipe = make_pipeline(StandardScaler(), Ridge()).fit(num, y)
    log("sk_numeric", mlflow.sklearn, pipe, num, r2(pipe, num))
    cols = frame[["age", "bmi", "region"]]
    ct = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "bmi"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ]
        ),
        Ridge(),
    ).fit(cols, y)
    log("sk_columns", mlflow.sklearn, ct, cols, r2(ct, cols))
    species = np.array(["low", "mid", "high"])[np.digitize(y, np.quantile(y, [0.33, 0.66]))]
    clf = LogisticRegression(max_iter=500).fit(num, species)
    log("sk_classifier", mlflow.sklearn, clf, num, accuracy(clf, num, species))
    typed = frame[["visits", "smoker", "age"]]
    lin = LinearRegression().fit(typed, y)
    log("sk_typed", mlflow.sklearn, lin, typed, r2(lin, typed))
    xr = xgboost.XGBRegressor(n_estimators=4, max_depth=2).fit(num, y)
    # no signature, no example: the booster's own feature names are all there is
    log("xgb_regressor", mlflow.xgboost, xr, num, r2(xr, num), input_example=None)
    xc = xgboost.XGBClassifier(n_estimators=4, max_depth=2).fit(num, label)
    log("xgb_classifier", mlflow.xgboost, xc, num, accuracy(xc, num, label))
    lc = lightgbm.LGBMClassifier(n_estimators=4, num_leaves=4, min_child_samples=5, verbose=-1).fit(
        num, label
    )
    log("lgbm_classifier", mlflow.lightgbm, lc, num, accuracy(lc, num, label))
    cb = catboost.CatBoostRegressor(iterations=4, depth=2, verbose=0, allow_writing_files=False)
    cb.fit(cols, y, cat_features=["region"])
    log("catboost_regressor", mlflow.catboost, cb, cols, r2(cb, cols))
    x32 = num.to_numpy(np.float32)
    sk = LogisticRegression(max_iter=500).fit(x32, label)
    onx = to_onnx(sk, x32[:1])  # skl2onnx's default: a ZipMap probability output
    log(
        "onnx_zipmap",
        mlflow.onnx,
        onx,
        x32,
        accuracy(sk, x32, label),
        signature=infer_signature(x32[:3], pd.DataFrame({"p": sk.predict(x32[:3])})),
    )
    return out
