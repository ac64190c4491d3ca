"""tests/flavors' registry built only with plain MLflow calls (``build_registry``, also used by bench/), loading
a logged version the way the resolver does, and the library's own answers to compare with."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.domain import LoadedModel, VersionInfo
from mlgate.models.loader import load_model_dir
from mlgate.records.checks import to_rows
from tests._support import mlflow_db

LIMITS = {"max_rows": 10_000, "max_cells": 1_000_000}
REGIONS = ["north", "south", "east"]
# what each test model is, by name: the tool that answers it is the one of its interface
INTERFACES = {
    "sk_numeric": "predictor",
    "sk_columns": "predictor",
    "sk_classifier": "classifier",
    "sk_typed": "predictor",
    "xgb_regressor": "predictor",
    "xgb_classifier": "classifier",
    "lgbm_classifier": "classifier",
    "catboost_regressor": "predictor",
    "onnx_zipmap": "classifier",
}
GOOD_TYPED = {"visits": 3, "smoker": True, "age": 41.5}  # a record sk_typed takes (long, boolean, double)


@dataclass
class Logged:
    name: str
    path: Path  # the version's local model folder, as the resolver downloads it
    model: Any  # the fitted object, for the library's own predict / predict_proba
    frame: Any  # a few rows of inputs as a DataFrame (test rows, not the stored example)
    metrics: dict[str, float]  # logged with mlflow.log_metric in the version's own run


def team_data(n: int = 80) -> Any:
    """(frame, y, label): ``n`` rows of age, bmi, region, visits (int64), smoker (bool); a continuous target
    and a binary label from it."""
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


def build_registry(root: Path) -> dict[str, Logged]:
    """Log and register every test model under ``root`` (also used by bench/flavors.py and bench/columnar.py)."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    uri = mlflow_db(root)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # process-wide: an earlier Registrar may have pointed it at another registry
    exp = mlflow.create_experiment("teams", artifact_location=(root / "artifacts").as_uri())
    frame, y, label = team_data()
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


def load(logged: Logged) -> LoadedModel:
    info = VersionInfo(name=logged.name, version=1, interfaces=(), flavor="", source=str(logged.path))
    return load_model_dir(info, logged.path, 1)


def records_of(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as the JSON an agent sends (plain Python values: float, int, bool, str)."""
    out: list[dict[str, Any]] = frame.to_dict(orient="records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in out]


def records(logged: Logged) -> list[dict[str, Any]]:
    """The test rows of ``logged`` as the JSON an agent sends (the ONNX model's tensor columns are f0, f1)."""
    if logged.name == "onnx_zipmap":  # a float32 tensor signature: columns f0, f1
        return [{"f0": float(a), "f1": float(b)} for a, b in np.asarray(logged.frame, np.float32).tolist()]
    return records_of(logged.frame)


def columns_of(recs: list[dict[str, Any]], reverse: bool = True) -> dict[str, Any]:
    """The same rows as ``{"columns", "rows"}`` (columns reversed: order is by name, not position)."""
    cols = list(recs[0])[:: -1 if reverse else 1]
    return {"columns": cols, "rows": [[r[c] for c in cols] for r in recs]}


def rows_for(loaded: LoadedModel, records: list[dict[str, Any]]) -> Any:
    return to_rows(records, loaded.info.features, **LIMITS)


def close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    return bool(
        np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=0, atol=tol)
    )
