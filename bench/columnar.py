"""Columnar batches: a 1,000-row call through mlgate in columns vs the library's own DataFrame call.

    .venv/bin/python bench/columnar.py [--n 50]

Per flavor of tests/flavors: the library's ``predict`` / ``predict_proba`` on the DataFrame it was
fitted with ("own"), against mlgate from a columnar batch (``to_rows`` + the adapter: what a tool
call pays once the JSON is parsed) and from records; ratio = columnar / own (target ≤ 1.3), timed in interleaved rounds. Then
the bytes of a 100-row request in each form (compact JSON). Medians; compare within one run.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(ROOT / "bench"))
warnings.filterwarnings("ignore")


def medians(fns: list[Callable[[], Any]], n: int) -> list[float]:
    """Each function's median seconds, timed in interleaved rounds (a busy machine slows all alike)."""
    samples: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(n):
        for fn, got in zip(fns, samples, strict=True):
            t = time.perf_counter()
            fn()
            got.append(time.perf_counter() - t)
    return [statistics.median(s) for s in samples]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    from tests._support.flavors import build_registry, records_of, team_data

    from mlgate.domain import VersionInfo
    from mlgate.models.loader import load_model_dir
    from mlgate.records.checks import to_rows

    limits = {"max_rows": 10_000, "max_cells": 1_000_000}
    with tempfile.TemporaryDirectory() as tmp:
        print("building the registry …", file=sys.stderr)
        reg = build_registry(Path(tmp))
        big, _, _ = team_data(1000)
        head = f"{'model':20} {'own ms':>7} {'columns':>8} {'records':>8} {'ratio':>6} | {'100 rows: records B':>19} {'columns B':>9}"
        print(head)
        print("-" * len(head))
        for name, logged in reg.items():
            loaded = load_model_dir(VersionInfo(name, 1, (), "", ""), logged.path, 1)
            info = loaded.info  # what the load found: interfaces, flavor, features (VersionInfo is frozen)
            classify = "classifier" in info.interfaces
            if info.flavor == "onnx":
                sess = ort.InferenceSession(
                    str(logged.path / "model.onnx"), providers=["CPUExecutionProvider"]
                )
                iname = sess.get_inputs()[0].name
                xk = big[["age", "bmi"]].to_numpy(np.float32)

                def own(x: Any, s: Any = sess, i: str = iname) -> Any:
                    return s.run(None, {i: x})

                recs = [{"f0": float(a), "f1": float(b)} for a, b in xk.tolist()]
            else:
                xk = big[list(logged.frame.columns)]
                own = getattr(logged.model, "predict_proba" if classify else "predict")
                recs = records_of(xk)
            cols = list(recs[0])
            batch = {"columns": cols, "rows": [[r[c] for c in cols] for r in recs]}
            call = getattr(loaded.impl, "classify" if classify else "predict")
            feats = info.features
            assert call(to_rows(batch, feats, **limits)) == call(to_rows(recs, feats, **limits))
            o, c, r = medians(
                [
                    lambda x=xk, f=own: f(x),
                    lambda b=batch, f=call, fs=feats: f(to_rows(b, fs, **limits)),
                    lambda b=recs, f=call, fs=feats: f(to_rows(b, fs, **limits)),
                ],
                args.n,
            )
            small = {"columns": cols, "rows": batch["rows"][:100]}
            rb = len(json.dumps({"model": f"{name}@1", "features": recs[:100]}, separators=(",", ":")))
            cb = len(json.dumps({"model": f"{name}@1", "features": small}, separators=(",", ":")))
            print(f"{name:20} {o * 1e3:7.2f} {c * 1e3:8.2f} {r * 1e3:8.2f} {c / o:6.2f} | {rb:19d} {cb:9d}")
        print("\nown: the library on a DataFrame; columns/records: mlgate's check + adapter, 1,000 rows")


if __name__ == "__main__":
    main()
