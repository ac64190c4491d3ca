"""Source vs compiled latency, side by side in one run: one row and 1,000 rows, per model and target.

    .venv/bin/python bench/compile_speedup.py [--n 300] [--targets onnx,int8,fp16,torchscript]

Registers the demo regressor and classifier plus bench models (RandomForest(100),
GradientBoosting(100), an MLP, and a small torch MLP when torch is installed) in a
temporary MLGATE_HOME, compiles each through the real ml_compile code path (parity
check included), and times the serving adapters (what ml_predict / ml_classify call)
on the same rows. Medians; the machine is noisy, so read the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from mlgate.config import Settings
from mlgate.errors import MlgateError
from mlgate.serving.runtime import Runtime
from mlgate.supply.compile import CompileRequest, compile_version


def register_models(settings: Settings) -> list[str]:
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlgate.demo import BUILDERS
    from mlgate.models.registrar import Registrar

    reg = Registrar(settings, admit_by="bench")  # torch models are pickles: this run built them
    BUILDERS["demo-regressor"](reg)
    BUILDERS["demo-classifier"](reg)
    x, y = load_diabetes(return_X_y=True)
    names = [f"f{i}" for i in range(x.shape[1])]
    reg.register_sklearn("bench-forest", RandomForestRegressor(100, random_state=0).fit(x, y), x, names, {})
    xi, yi = load_iris(return_X_y=True)
    labels = np.asarray(["setosa", "versicolor", "virginica"])[yi]
    iris = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    gb = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(xi, labels)
    reg.register_sklearn(
        "bench-gboost", gb, xi, iris, {}, extra_meta={"classes": [str(c) for c in gb.classes_]}
    )
    mlp = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=500, random_state=0)
    ).fit(xi, labels)
    reg.register_sklearn(
        "bench-mlp", mlp, xi, iris, {}, extra_meta={"classes": [str(c) for c in mlp.classes_]}
    )
    models = ["demo-regressor@1", "demo-classifier@1", "bench-forest@1", "bench-gboost@1", "bench-mlp@1"]
    torch_ref = register_torch(reg)
    return models + ([torch_ref] if torch_ref else [])


def register_torch(reg: Any) -> str | None:
    try:
        import torch
    except ImportError:
        return None
    import mlflow.pytorch
    import pandas as pd
    from mlflow.models import infer_signature

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(16, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 1),
    ).eval()
    x = np.random.default_rng(0).normal(size=(256, 16)).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x)).numpy()
    folder = Path(tempfile.mkdtemp()) / "model"
    frame = pd.DataFrame(x.astype(np.float64), columns=[f"f{i}" for i in range(16)])
    mlflow.pytorch.save_model(
        net,
        str(folder),
        signature=infer_signature(frame, y),
        serialization_format="pickle",
        pip_requirements=["torch"],
        metadata={"mlgate": {"sample": x[:200].tolist()}},
    )
    info = reg.register_dir("bench-torch", folder)
    return f"bench-torch@{info.version}"


def call_of(loaded: Any) -> Any:
    return loaded.impl.classify if "classifier" in loaded.info.interfaces else loaded.impl.predict


def median_ms(fn: Any, rows: np.ndarray, n: int) -> float:
    for _ in range(min(20, n)):
        fn(rows)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(rows)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def quiet(done: float, total: float | None, message: str) -> None:
    return None


async def run(n: int, targets: list[str]) -> None:
    home = Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    settings = Settings(home=home)
    settings.ensure_home()
    models = register_models(settings)
    rt = Runtime(settings)
    print(
        "| model | target | 1 row: source | compiled | speedup | 1,000 rows: source | compiled | speedup "
        "| max abs diff | labels equal |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ref in models:
        src, _ = await rt.models.acquire(ref)
        sample = np.asarray(src.extra.get("sample") or [], dtype=np.float64)
        one = sample[:1]
        big = np.resize(sample, (1000, sample.shape[1]))
        s1, s1000 = median_ms(call_of(src), one, n), median_ms(call_of(src), big, max(n // 10, 10))
        for target in targets:
            if target == "torchscript" and not ref.startswith("bench-torch"):
                continue
            try:
                out = await compile_version(
                    rt, CompileRequest(ref, target), caller=rt.local_caller(), progress=quiet
                )
            except MlgateError as exc:
                why = exc.message.split(": ", 1)[-1].split(";")[0]
                print(f"| {ref} | {target} | refused: {why} | | | | | | | |")
                continue
            dst, _ = await rt.models.acquire(out.registered)
            c1, c1000 = median_ms(call_of(dst), one, n), median_ms(call_of(dst), big, max(n // 10, 10))
            p = out.parity
            agree = "—" if p.label_agreement is None else f"{p.label_agreement:.1%}"
            print(
                f"| {ref} | {out.artifact.format} | {s1 * 1000:,.1f} µs | {c1 * 1000:,.1f} µs | {s1 / c1:.1f}× "
                f"| {s1000:,.2f} ms | {c1000:,.2f} ms | {s1000 / c1000:.1f}× | {p.max_abs_diff:.1e} | {agree} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="timed one-row calls per cell")
    ap.add_argument("--targets", default="onnx,int8,fp16,torchscript")
    args = ap.parse_args()
    anyio.run(run, args.n, [t for t in args.targets.split(",") if t])


if __name__ == "__main__":
    main()
