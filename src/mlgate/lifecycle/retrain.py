"""Drift-aware retraining of scikit-learn models, with the same gates as a promotion.

1. Load the incumbent (the version ``model`` names) and the new data.
2. Check the new data's drift against the incumbent's training sample; the check is
   recorded on the incumbent.
3. Refit a ``sklearn.base.clone`` of the incumbent's estimator on a split of the data.
4. Evaluate incumbent and candidate on the same holdout (r2 for regressors, accuracy
   for classifiers, unless ``metric`` says otherwise).
5. Register the candidate in development with its holdout metrics and lineage: the
   parent version and its digest, the data's digest, source and size. A drift check
   of the holdout against the candidate's own training sample is recorded on it.
6. Promote it to production only when it beats the incumbent and ``promote_if_better``
   holds, through ``lifecycle.promote`` — so every gate applies.

Every decision lands in ``decisions`` with its reason. scikit-learn is imported inside.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio
import numpy as np

from mlgate.auth.caller import Caller
from mlgate.clock import now_iso
from mlgate.domain import LoadedModel, Matrix
from mlgate.errors import InvalidInput
from mlgate.lifecycle import drift as drifting
from mlgate.lifecycle.comparison import direction
from mlgate.lifecycle.gates import parse_gates
from mlgate.lifecycle.stage_history import TAG_HISTORY
from mlgate.lifecycle.stages import promote
from mlgate.lifecycle.training_data import TrainingData, load_training_data
from mlgate.schemas.lifecycle import DriftSummary, RetrainData, RetrainResult
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.runtime import Runtime

Progress = Callable[[float, float | None, str | None], Awaitable[None]]
MIN_ROWS = 20
STEPS = 6
REGRESSION_METRICS = ("r2", "mae", "rmse")
CLASSIFICATION_METRICS = ("accuracy", "f1_macro")


async def retrain(
    rt: Runtime,
    model: str,
    data: Any,
    target: str,
    holdout: float = 0.2,
    gates: dict[str, Any] | None = None,
    promote_if_better: bool = True,
    *,
    metric: str | None = None,
    caller: Caller,
    progress: Progress | None = None,
) -> RetrainResult:
    """Refit ``model``'s estimator on ``data``; register the candidate; promote it only if better and gated."""
    who = caller
    parse_gates(gates)  # refuse malformed gates before any work
    if not 0.05 <= holdout <= 0.5:
        raise InvalidInput(f"holdout {holdout} is out of range", "send a fraction between 0.05 and 0.5")

    async def step(done: int, message: str) -> None:
        if progress is not None:
            await progress(done, STEPS, message)

    reg = rt.models.registry
    await step(0, "loading the incumbent and the data")
    loaded, incumbent = await rt.models.acquire(model)
    est = _estimator(loaded)
    classifier = "classifier" in loaded.info.interfaces
    allowed = CLASSIFICATION_METRICS if classifier else REGRESSION_METRICS
    chosen = metric or allowed[0]
    if chosen not in allowed:
        raise InvalidInput(
            f"metric {chosen!r} is not computed for this model", f"use one of {', '.join(allowed)}"
        )
    feats = loaded.info.features
    names = [f.name for f in feats]
    data_ = await anyio.to_thread.run_sync(
        lambda: load_training_data(rt.settings, data, feats, target, classifier=classifier)
    )
    if data_.rows < MIN_ROWS:
        raise InvalidInput(
            f"{data_.rows} rows are too few to retrain and evaluate", f"send at least {MIN_ROWS}"
        )
    decisions = [f"incumbent {incumbent.name}@{incumbent.version}; {data_.rows} rows from {data_.source}"]

    await step(1, "checking drift against the incumbent's training data")
    if loaded.extra.get("sample") or loaded.info.stats:
        ref, kind = drifting.training_reference(loaded)
        drift = await anyio.to_thread.run_sync(
            drifting.report, names, incumbent, ref, data_.x, kind, drifting.DriftThresholds()
        )
        await anyio.to_thread.run_sync(
            drifting.record_check, reg, incumbent.name, incumbent.version, drift, who.subject, data_.digest
        )
        summary = drifting.summarize(drift)
        decisions.append(
            f"drift check on the new data: {drift.message} (recorded on version {incumbent.version})"
        )
    else:  # logged by plain MLflow code: nothing to compare with (the candidate's own check still runs)
        summary = DriftSummary(
            drift_detected=False, dataset_drift_score=0.0, n_drifted=0, total=0, drifted_features=[]
        )
        decisions.append("drift not checked: the incumbent stored no training sample or statistics")

    await step(2, f"fitting a clone of {type(est).__name__}")
    candidate, split = await anyio.to_thread.run_sync(_fit, est, data_, holdout, classifier)
    xtr, xte, _, yte = split

    await step(3, f"evaluating both on {len(yte)} holdout rows")
    inc_m = await anyio.to_thread.run_sync(_evaluate, est, xte, yte, classifier)
    cand_m = await anyio.to_thread.run_sync(_evaluate, candidate, xte, yte, classifier)

    await step(4, "registering the candidate in development")
    info = await anyio.to_thread.run_sync(
        lambda: _register(rt, loaded, incumbent, candidate, xtr, names, cand_m, data_, chosen, who.subject)
    )
    cand_stamp = ModelStamp(
        name=info.name, version=info.version, ref=f"{info.name}@{info.version}", sha256=info.sha256
    )
    check = await anyio.to_thread.run_sync(
        drifting.report, names, cand_stamp, xtr[:200], xte, "training_sample", drifting.DriftThresholds()
    )
    await anyio.to_thread.run_sync(
        drifting.record_check, reg, info.name, info.version, check, who.subject, data_.digest
    )
    decisions.append(
        f"registered {info.name}@{info.version} in development with its holdout metrics and lineage; "
        f"holdout vs its training sample: {check.message}"
    )

    await step(5, "deciding on promotion")
    way = direction(chosen) or "higher"
    c, i = cand_m[chosen], inc_m[chosen]
    better = c > i if way == "higher" else c < i
    decisions.append(
        f"{chosen} ({way} is better) on the same holdout: candidate {c:.6g}, incumbent {i:.6g} → "
        + ("the candidate is better" if better else "the candidate is not better")
    )
    promoted, failed, promotion = False, [], None
    if not better:
        decisions.append(
            f"not promoted: it does not beat the incumbent; {info.name}@{info.version} stays in development"
        )
    elif not promote_if_better:
        decisions.append(
            f"not promoted: promote_if_better is false; promote {info.name}@{info.version} with ml_promote"
        )
    else:
        result = await promote(rt, info.name, info.version, "production", gates, caller=who)
        promoted, failed, promotion = result.promoted, result.failed_gates, result.model_dump(mode="json")
        decisions.append(f"promoted: {result.message}" if promoted else result.message)
    await step(6, "done")
    return RetrainResult(
        retrained=True,
        promoted=promoted,
        drift_summary=summary,
        candidate=cand_stamp,
        incumbent=incumbent,
        metric=chosen,
        metrics={"incumbent": inc_m, "candidate": cand_m},
        failed_gates=failed if not promoted else [],
        promotion=promotion,
        decisions=decisions,
        data=RetrainData(
            source=data_.source,
            digest=f"sha256:{data_.digest}",
            rows=data_.rows,
            train_rows=int(xtr.shape[0]),
            holdout_rows=int(xte.shape[0]),
        ),
    )


def _estimator(loaded: LoadedModel) -> Any:
    from mlgate.adapters.sklearn import SklearnModel, is_text_pipeline

    info = loaded.info
    if info.flavor != "sklearn" or not isinstance(loaded.impl, SklearnModel):
        raise InvalidInput(
            f"{info.name}@{info.version} is a {info.flavor or 'non-scikit-learn'} model",
            "ml_retrain refits scikit-learn models only",
        )
    if is_text_pipeline(loaded.impl.est) or not info.features:
        raise InvalidInput(
            f"{info.name}@{info.version} takes text, not tabular features",
            "ml_retrain refits tabular scikit-learn models",
        )
    return loaded.impl.est


def _fit(est: Any, data: TrainingData, holdout: float, classifier: bool) -> tuple[Any, tuple[Any, ...]]:
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    stratify = None
    if classifier:
        _, counts = np.unique(data.y, return_counts=True)
        if counts.min() >= 2 and round(holdout * data.rows) >= counts.size:
            stratify = data.y
    split = train_test_split(data.x, data.y, test_size=holdout, random_state=0, stratify=stratify)
    xtr, _, ytr, _ = split
    candidate = clone(est).fit(xtr, ytr)
    return candidate, tuple(split)


def _evaluate(est: Any, x: Matrix, y: np.ndarray, classifier: bool) -> dict[str, float]:
    import warnings

    from sklearn import metrics as m

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = est.predict(x)
    if classifier:
        labels = np.asarray([str(p) for p in pred])
        return {
            "accuracy": float(m.accuracy_score(y, labels)),
            "f1_macro": float(m.f1_score(y, labels, average="macro", zero_division=0)),
        }
    pred = np.asarray(pred, dtype=np.float64).reshape(len(y))
    return {
        "r2": float(m.r2_score(y, pred)),
        "mae": float(m.mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(m.mean_squared_error(y, pred))),
    }


def _register(
    rt: Runtime,
    loaded: LoadedModel,
    parent: ModelStamp,
    candidate: Any,
    xtr: Matrix,
    names: list[str],
    metrics: dict[str, float],
    data: TrainingData,
    metric: str,
    by: str,
) -> Any:
    from mlgate.models.registrar import Registrar

    reg = rt.models.registry
    lineage = {
        "parent": f"{parent.name}@{parent.version}",
        "data_digest": f"sha256:{data.digest}",
        "data_source": data.source,
        "data_rows": data.rows,
        "retrained_by": by,
    }
    extra: dict[str, Any] = {"lineage": lineage}
    classes = getattr(candidate, "classes_", None)
    if classes is not None:
        extra["classes"] = [str(c) for c in classes]
    info = Registrar(rt.settings, rt.models.mlflow).register_sklearn(
        parent.name,
        candidate,
        xtr,
        names,
        metrics,
        extra_meta=extra,
        description=f"Retrained from {parent.name}@{parent.version} on {data.rows} rows ({data.source}).",
    )
    tags = {
        "mlgate.parent": f"{parent.name}@{parent.version}",
        "mlgate.parent_sha256": parent.sha256 or "",
        "mlgate.data_digest": f"sha256:{data.digest}",
        "mlgate.data_source": data.source[:500],
        "mlgate.data_rows": str(data.rows),
        "mlgate.lineage.retrained_by": by,
        "mlgate.lineage.selection_metric": metric,
        TAG_HISTORY: json.dumps(
            [
                {
                    "stage": "development",
                    "at": now_iso(),
                    "by": by,
                    "previous": None,
                    "note": f"registered by ml_retrain from {parent.name}@{parent.version}",
                }
            ]
        ),
    }
    for key, value in tags.items():
        reg.set_tag(info.name, info.version, key, value)
    return replace(info, tags={**info.tags, **tags})
