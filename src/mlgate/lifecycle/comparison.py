"""Versions of one model side by side: metrics, deltas against a baseline, the best per metric."""

from __future__ import annotations

from typing import Any

import anyio

from mlgate.errors import InvalidInput
from mlgate.lifecycle.stages import model_name
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.tags import TAG_STAGE
from mlgate.schemas.lifecycle import CompareResult, CompareVersion
from mlgate.serving.runtime import Runtime

MAX_VERSIONS = 20
HIGHER = frozenset(
    {
        "r2",
        "accuracy",
        "balanced_accuracy",
        "f1",
        "f1_macro",
        "f1_weighted",
        "precision",
        "recall",
        "roc_auc",
        "auc",
        "explained_variance",
        "parity",
    }
)
LOWER = frozenset(
    {
        "mae",
        "mse",
        "rmse",
        "mape",
        "smape",
        "log_loss",
        "logloss",
        "brier",
        "error",
        "loss",
        "latency_ms",
        "max_abs_diff",
    }
)


def direction(metric: str) -> str | None:
    """'higher' or 'lower' is better, for the metrics mlgate knows; None otherwise."""
    key = metric.lower()
    if key in HIGHER:
        return "higher"
    if key in LOWER or key.endswith(("_error", "_loss")):
        return "lower"
    return None


async def compare(rt: Runtime, model: str, versions: list[int] | None = None) -> CompareResult:
    """Metrics of ``versions`` (default: every version, newest 20) with deltas against the baseline
    (the production version when it is among them, else the first listed)."""
    name = model_name(model)
    if versions is not None:
        if not versions:
            raise InvalidInput("versions is empty", "send at least one version number, e.g. [1, 2]")
        if len(versions) > MAX_VERSIONS:
            raise InvalidInput(
                f"{len(versions)} versions is more than {MAX_VERSIONS}", "compare fewer at a time"
            )
        versions = list(dict.fromkeys(versions))
    return await anyio.to_thread.run_sync(_compare, rt.models.registry, name, versions)


def _compare(reg: MlflowRegistry, name: str, versions: list[int] | None) -> CompareResult:
    if versions is None:
        versions = [v.version for v in reg.versions(name)][-MAX_VERSIONS:]
        if not versions:
            reg.version(name, 1)  # raises the NotFound that names the model
    infos = [reg.version(name, v) for v in versions]
    rows = [
        CompareVersion(
            version=i.version, stage=i.tags.get(TAG_STAGE), aliases=sorted(i.aliases), created_at=i.created_at
        )
        for i in infos
    ]
    values = {i.version: i.metrics or reg.run_metrics(i.run_id) for i in infos}
    production = next((i.version for i in infos if "production" in i.aliases), None)
    baseline = production if production is not None else versions[0]
    names = sorted({m for v in values.values() for m in v})
    metrics: dict[str, dict[str, float | None]] = {}
    deltas: dict[str, dict[str, float | None]] = {}
    better: dict[str, str] = {}
    best: dict[str, int] = {}
    for m in names:
        metrics[m] = {str(v): _num(values[v].get(m)) for v in versions}
        base = values[baseline].get(m)
        deltas[m] = {
            str(v): (
                None
                if base is None or values[v].get(m) is None
                else round(float(values[v][m]) - float(base), 6)
            )
            for v in versions
        }
        way = direction(m)
        present = [(float(values[v][m]), v) for v in versions if values[v].get(m) is not None]
        if way and present:
            better[m] = way
            best[m] = (max(present) if way == "higher" else min(present))[1]
    return CompareResult(
        name=name, baseline=baseline, versions=rows, metrics=metrics, deltas=deltas, better=better, best=best
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
