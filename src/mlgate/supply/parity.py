"""The parity check of ml_compile: source and compiled artifact on the same rows, side by side.

Rows come from the caller's ``data``, else the version's training sample (recorded at
registration), else draws from its per-feature training statistics. An element passes
when ``|compiled - source| <= atol + rtol * |source|`` (NumPy's ``allclose`` rule); a
classifier must also give the same label on at least ``min_label_agreement`` of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlgate.domain import LoadedModel
from mlgate.errors import InvalidInput
from mlgate.records.checks import to_matrix
from mlgate.schemas.supply import ParityReport

MAX_ROWS = 1000


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    labels: float


TOLERANCES: dict[str, Tolerance] = {
    "onnx": Tolerance(1e-5, 1e-5, 1.0),
    "torchscript": Tolerance(1e-5, 1e-5, 1.0),
    "fp16": Tolerance(1e-2, 1e-2, 0.99),
    "int8": Tolerance(5e-2, 5e-2, 0.98),
    "safetensors": Tolerance(1e-5, 1e-5, 1.0),
    "tensorrt": Tolerance(1e-4, 1e-4, 1.0),  # FP32 engine; kernels reorder sums
}


def sample_rows(
    loaded: LoadedModel, data: list[dict[str, Any]] | dict[str, Any] | None, *, max_cells: int
) -> tuple[np.ndarray, str]:
    feats = loaded.info.features
    if data:
        return to_matrix(data, feats, max_rows=MAX_ROWS, max_cells=max_cells), "caller data"
    sample = loaded.extra.get("sample")
    if sample:
        x = np.asarray(sample, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == len(feats):
            return x[:MAX_ROWS], "training sample"
    stats = loaded.info.stats
    if feats and all(f.name in stats for f in feats):
        rng = np.random.default_rng(0)
        cols = []
        for f in feats:
            s = stats[f.name]
            col = rng.normal(s["mean"], max(s["std"], 1e-12), 200)
            cols.append(np.clip(col, s["min"], s["max"]))
        return np.column_stack(cols), "training statistics"
    raise InvalidInput(
        f"{loaded.info.name}@{loaded.info.version} has no training sample or statistics for the parity check",
        "pass data: a few records (objects keyed by the feature names) to compare on",
    )


def _scores(impl: Any, x: np.ndarray, classifier: bool, classes: list[str]) -> tuple[np.ndarray, list[str]]:
    if classifier:
        labels, probs = impl.classify(x)
        return np.asarray([[p.get(c, np.nan) for c in classes] for p in probs], dtype=np.float64), labels
    return np.asarray(impl.predict(x), dtype=np.float64).reshape(len(x), -1), []


def compare(
    source: Any,
    compiled: Any,
    x: np.ndarray,
    *,
    classifier: bool,
    classes: list[str],
    tol: Tolerance,
    sample: str,
) -> ParityReport:
    a, la = _scores(source, x, classifier, classes)
    b, lb = _scores(compiled, x, classifier, classes)
    if a.shape != b.shape:
        raise InvalidInput(
            f"the compiled artifact answers with shape {b.shape}, the source with {a.shape}",
            "this model cannot be compiled faithfully; serve the source version",
        )
    diff = np.abs(a - b)
    diff = np.where(np.isnan(diff), np.inf, diff)
    big = np.abs(a) > tol.atol
    rel = float((diff[big] / np.abs(a[big])).max()) if big.any() else 0.0
    agreement = float(np.mean([p == q for p, q in zip(la, lb, strict=True)])) if classifier else None
    within = bool(np.all(diff <= tol.atol + tol.rtol * np.abs(a)))
    passed = within and (agreement is None or agreement >= tol.labels)
    return ParityReport(
        rows=len(x),
        sample=sample,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        max_rel_diff=rel,
        label_agreement=agreement,
        atol=tol.atol,
        rtol=tol.rtol,
        min_label_agreement=tol.labels if classifier else None,
        passed=passed,
    )
