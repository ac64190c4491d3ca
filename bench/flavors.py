"""Per flavor: load, warm 1-row and 1,000-row calls through mlgate's adapter vs the library's own, one run.

    .venv/bin/python bench/flavors.py [--n 200]

Builds the tests/flavors registry (plain MLflow calls) in a temporary folder. "load" is the
artifact → ready object time with the libraries already imported: ``load_model_dir`` against
``mlflow.<flavor>.load_model`` on the same folder. Calls: the library's own ``predict`` /
``predict_proba`` on a DataFrame it was fitted with, against mlgate from JSON records
(``to_rows`` + the adapter: what a tool call pays) and from already-checked rows (the adapter
alone). Medians; the machine is shared and noisy, so compare within one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

FLAVOR_LOADERS = {
    "sklearn": "mlflow.sklearn",
    "xgboost": "mlflow.xgboost",
    "lightgbm": "mlflow.lightgbm",
    "catboost": "mlflow.catboost",
    "onnx": "mlflow.onnx",
}


def median_s(fn: Callable[[], Any], n: int) -> float:
    fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()

    import importlib

    import numpy as np
    import onnxruntime as ort
    from tests._support.flavors import build_registry, records_of, team_data

    from mlgate.domain import VersionInfo
    from mlgate.models.loader import load_model_dir
    from mlgate.records.checks import to_rows

    with tempfile.TemporaryDirectory() as tmp:
        print("building the registry …", file=sys.stderr)
        reg = build_registry(Path(tmp))
        big, _, _ = team_data(1000)
        limits = {"max_rows": 10_000, "max_cells": 1_000_000}
        head = (
            f"{'model':20} {'load ms':>8} {'own':>7} | {'1 row µs':>9} {'own':>7} {'rows':>7} {'ratio':>6}"
            f" | {'1k rows ms':>10} {'own':>7} {'rows':>7} {'ratio':>6}"
        )
        print(head)
        print("-" * len(head))
        for name, logged in reg.items():
            info = VersionInfo(name=name, version=1, interfaces=(), flavor="", source="")
            t = time.perf_counter()
            loaded = load_model_dir(info, logged.path, 1)
            ours_load = time.perf_counter() - t
            own_mod = importlib.import_module(FLAVOR_LOADERS[info.flavor])
            t = time.perf_counter()
            own_mod.load_model(str(logged.path))
            own_load = time.perf_counter() - t
            classify = "classifier" in info.interfaces
            feats = info.features
            if info.flavor == "onnx":
                sess = ort.InferenceSession(
                    str(logged.path / "model.onnx"), providers=["CPUExecutionProvider"]
                )
                iname = sess.get_inputs()[0].name
                x1 = np.asarray(logged.frame, dtype=np.float32)[:1]
                xk = big[["age", "bmi"]].to_numpy(np.float32)

                def own(x: Any, s: Any = sess, i: str = iname) -> Any:
                    return s.run(None, {i: x})

                recs1 = [{"f0": float(a), "f1": float(b)} for a, b in x1.tolist()]
                recsk = [{"f0": float(a), "f1": float(b)} for a, b in xk.tolist()]
            else:
                cols = list(logged.frame.columns)
                x1, xk = logged.frame.iloc[:1], big[cols]
                own = getattr(logged.model, "predict_proba" if classify else "predict")
                recs1, recsk = records_of(x1), records_of(xk)
            call = getattr(loaded.impl, "classify" if classify else "predict")
            rows1 = to_rows(recs1, feats, **limits)
            rowsk = to_rows(recsk, feats, **limits)
            k = max(args.n // 10, 5)
            o1 = median_s(lambda x=x1, f=own: f(x), args.n)
            m1 = median_s(lambda r=recs1, c=call, fs=feats: c(to_rows(r, fs, **limits)), args.n)
            a1 = median_s(lambda r=rows1, c=call: c(r), args.n)
            ok = median_s(lambda x=xk, f=own: f(x), k)
            mk = median_s(lambda r=recsk, c=call, fs=feats: c(to_rows(r, fs, **limits)), k)
            ak = median_s(lambda r=rowsk, c=call: c(r), k)
            print(
                f"{name:20} {ours_load * 1e3:8.1f} {own_load * 1e3:7.1f} | {m1 * 1e6:9.0f} {o1 * 1e6:7.0f}"
                f" {a1 * 1e6:7.0f} {m1 / o1:6.2f} | {mk * 1e3:10.2f} {ok * 1e3:7.2f} {ak * 1e3:7.2f} {mk / ok:6.2f}"
            )
        print(
            "\n1 row µs: mlgate from JSON records | own: library on a DataFrame | rows: mlgate adapter alone on "
            "checked rows; ratio = mlgate records / own"
        )


if __name__ == "__main__":
    main()
