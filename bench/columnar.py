"""Columnar batches: a 1,000-row call through mlgate in columns vs the library's own DataFrame call.

    .venv/bin/python bench/columnar.py [--n 50]

Per flavor of tests/flavors: the library's ``predict`` / ``predict_proba`` on the DataFrame it was
fitted with ("own"), against the serving call mlgate's tool makes once the JSON is parsed
(``serving.inference.predict`` / ``classify`` on a ``Runtime``: the check of the batch, the guards, the
executor — inline, in a thread or through the batcher, as the model is served — and the result model the
tool returns) from a columnar batch and from records; ratio = columnar / own (target ≤ 1.3), timed in
interleaved rounds. Two costs every tool call also pays are shown apart, outside the ratio: "JSON", the
result dumped as the MCP SDK dumps it for ``structuredContent`` (``model_dump(mode="json")``), and
"digest", the ledger's input digest of the columnar arguments (``json_sha256``). "own 1t" is the library's
call on one thread, as mlgate's adapters make it (LightGBM ``num_threads``, CatBoost ``thread_count``,
XGBoost ``n_jobs``, ONNX Runtime's session options); "/ 1t" the ratio to it: mlgate's own cost, without
the threads' difference (on a busy host a library's default threads can cost more than the call). "pyfunc" is
MLflow's own DataFrame call on the same model folder (``mlflow.pyfunc.load_model(...).predict(frame)``, what
``mlflow models serve`` runs per request once its JSON is parsed; for ONNX the frame of the graph's inputs),
shown beside the ratio. Then the bytes of a 100-row request in each form (compact JSON). The models are loaded and the heap frozen before timing,
as ``mlgate serve`` does after its warm-up (``server/steady.settle_heap``). Medians; compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import inspect
import json
import os
import random
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


async def medians(fns: list[Callable[[], Any]], n: int) -> list[float]:
    """Each function's median seconds (a coroutine function's awaited), timed in interleaved rounds (a busy
    machine slows all alike), in a new order each round: the first call of a round runs slower (the same
    library call measured first and second differed by a third), so no function keeps one place."""
    samples: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        got = fn()
        if inspect.isawaitable(got):
            await got
    order = list(range(len(fns)))
    shuffle = random.Random(0).shuffle
    for _ in range(n):
        shuffle(order)
        for k in order:
            t = time.perf_counter()
            got = fns[k]()
            if inspect.isawaitable(got):
                await got
            samples[k].append(time.perf_counter() - t)
    return [statistics.median(s) for s in samples]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(run(args.n))


CLASSIFIERS = ("sk_classifier", "xgb_classifier", "lgbm_classifier", "onnx_zipmap")


def one_thread(flavor: str, model: Any, method: str) -> Callable[[Any], Any]:
    """The library's own call on one thread (as mlgate's adapters make it); scikit-learn's is one already."""
    if flavor == "lightgbm":
        return functools.partial(getattr(model, method), num_threads=1)
    if flavor == "catboost":
        return functools.partial(getattr(model, method), thread_count=1)
    if flavor == "xgboost":
        single = copy.deepcopy(model)
        single.set_params(n_jobs=1)
        return getattr(single, method)  # type: ignore[no-any-return]
    return getattr(model, method)  # type: ignore[no-any-return]


async def run(n: int) -> None:

    import mlflow.pyfunc
    import numpy as np
    import onnxruntime as ort
    import pandas as pd
    from tests._support.flavors import build_registry, records_of, team_data

    from mlgate.artifacts import json_sha256
    from mlgate.config import Settings
    from mlgate.server.steady import settle_heap
    from mlgate.serving import inference
    from mlgate.serving.runtime import Runtime

    with tempfile.TemporaryDirectory() as tmp:
        print("building the registry …", file=sys.stderr)
        reg = build_registry(Path(tmp))
        settings = Settings(home=Path(tmp) / "home", tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
        settings.ensure_home()
        rt = Runtime(settings)
        big, _, _ = team_data(1000)
        kinds = {n: "classifier" if n in CLASSIFIERS else "predictor" for n in reg}
        for name, kind in kinds.items():
            await rt.serve(f"{name}@1", kind)
        settle_heap()  # as `mlgate serve` does after its warm-up: no full collection walks the loaded heap
        head = (
            f"{'model':20} {'own ms':>7} {'own 1t':>7} {'columns':>8} {'records':>8} {'ratio':>6} {'/ 1t':>5} "
            f"{'pyfunc':>7} | "
            f"{'JSON':>5} {'digest':>6} | {'100 rows: records B':>19} {'columns B':>9}"
        )
        print(head)
        print("-" * len(head))
        for name, logged in reg.items():
            ref = f"{name}@1"
            classify = kinds[name] == "classifier"
            loaded, _ = await rt.serve(ref, kinds[name])
            info = loaded.info  # what the load found: interfaces, flavor, features
            assert ("classifier" in info.interfaces) == classify, (name, info.interfaces)
            if info.flavor == "onnx":
                one = ort.SessionOptions()
                one.intra_op_num_threads = one.inter_op_num_threads = 1
                path, cpu = str(logged.path / "model.onnx"), ["CPUExecutionProvider"]
                sess = ort.InferenceSession(path, providers=cpu)
                sess1 = ort.InferenceSession(path, sess_options=one, providers=cpu)
                iname = sess.get_inputs()[0].name
                xk = big[["age", "bmi"]].to_numpy(np.float32)

                def own(x: Any, s: Any = sess, i: str = iname) -> Any:
                    return s.run(None, {i: x})

                own1 = functools.partial(own, s=sess1)
                recs = [{"f0": float(a), "f1": float(b)} for a, b in xk.tolist()]
            else:
                xk = big[list(logged.frame.columns)]
                method = "predict_proba" if classify else "predict"
                own = getattr(logged.model, method)
                own1 = one_thread(info.flavor, logged.model, method)
                recs = records_of(xk)
            cols = list(recs[0])
            batch = {"columns": cols, "rows": [[r[c] for c in cols] for r in recs]}
            pyfunc = mlflow.pyfunc.load_model(str(logged.path))
            pframe = pd.DataFrame(xk, columns=cols) if info.flavor == "onnx" else xk
            serve = inference.classify if classify else inference.predict
            result = await serve(rt, ref, batch)
            assert result.model_dump() == (await serve(rt, ref, recs)).model_dump(), name
            wire = {"model": ref, "features": batch}
            o, o1, pf, c, r, j, d = await medians(
                [
                    lambda x=xk, f=own: f(x),
                    lambda x=xk, f=own1: f(x),
                    lambda x=pframe, f=pyfunc: f.predict(x),
                    lambda b=batch, f=serve, m=ref: f(rt, m, b),
                    lambda b=recs, f=serve, m=ref: f(rt, m, b),
                    lambda res=result: res.model_dump(mode="json"),
                    lambda w=wire: json_sha256(w),
                ],
                n,
            )
            small = {"columns": cols, "rows": batch["rows"][:100]}
            rb = len(json.dumps({"model": ref, "features": recs[:100]}, separators=(",", ":")))
            cb = len(json.dumps({"model": ref, "features": small}, separators=(",", ":")))
            print(
                f"{name:20} {o * 1e3:7.2f} {o1 * 1e3:7.2f} {c * 1e3:8.2f} {r * 1e3:8.2f} {c / o:6.2f} {c / o1:5.2f} "
                f"{pf * 1e3:7.2f} | "
                f"{j * 1e3:5.2f} {d * 1e3:6.2f} | {rb:19d} {cb:9d}"
            )
        await rt.aclose()
        print(
            "\nown: the library on a DataFrame (own 1t: on one thread, as mlgate calls it; / 1t: columns / own 1t);"
            " columns/records: mlgate's serving call (check, guards, executor, result), 1,000 rows; pyfunc: MLflow's"
            " pyfunc predict on the DataFrame; JSON, digest:"
            " the result's dump and the ledger's input digest (not in the ratio)"
        )


if __name__ == "__main__":
    main()
