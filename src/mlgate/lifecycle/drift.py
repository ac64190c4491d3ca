"""Data drift: current records against a version's training data, feature by feature.

Two measures per feature, from NumPy and SciPy (imported when a check runs):

* PSI, the population stability index over ten quantile bins of the reference
  (``np.quantile`` edges, ``np.histogram`` counts): ``Σ (c − r) · ln(c / r)``, summed as
  ``scipy.special.rel_entr(c, r) + rel_entr(r, c)``, with empty bins floored at 1e-4.
  Below 0.1 is usually read as stable, 0.1–0.25 as a moderate shift, above 0.25 as a
  large one.
* ``scipy.stats.ks_2samp``: the two-sample Kolmogorov–Smirnov statistic D (the largest
  gap between the two empirical CDFs) and its two-sided p-value, exact for samples up to
  10,000 rows and asymptotic above (``method='auto'``).

A feature drifts when the shift is both statistically significant (KS p-value below
``ks_pvalue``) and material (PSI at least ``psi``): PSI alone is noisy on small
samples, and KS alone flags negligible shifts on large ones. The dataset drifts when
at least ``drift_share`` of its features drift. The thresholds are in every result.

The reference is the version's stored training sample (200 rows at registration),
else a sample drawn from its stored per-feature statistics, else what the caller
supplies. A check against the version's own training data is recorded on the version
(the ``mlgate.drift`` tag) for the ``require_drift_check`` gate, and only when the
caller holds ``ml:manage``: a gate must not be satisfiable by a read-only caller, who
could send rows drawn from the published training statistics. A read-only check
still answers, with ``recorded: false`` and the reason. The record keeps who made it
and ``data_digest``, the SHA-256 of the canonical JSON of the current rows as records
(sorted keys, no whitespace, UTF-8: ``mlgate.artifacts.json_sha256``; a columnar batch is
digested as the records it holds, so the same rows have one digest in either form). A check against a
supplied reference is never recorded, since the caller chose what to compare with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np

from mlgate.artifacts import json_sha256 as input_digest
from mlgate.auth.caller import Caller
from mlgate.clock import now_iso
from mlgate.domain import LoadedModel, Matrix
from mlgate.errors import InvalidInput
from mlgate.lifecycle.gates import TAG_DRIFT
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.resolvers import MlflowResolver
from mlgate.records.checks import to_matrix
from mlgate.records.columns import as_records
from mlgate.schemas.lifecycle import DriftResult, DriftSummary, DriftThresholdsModel, FeatureDrift
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.runtime import Runtime

MIN_ROWS = 10
RECORD_SCOPE = "ml:manage"  # recording a check that require_drift_check trusts
PSI_BINS = 10
_FLOOR = 1e-4


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    psi: float = 0.1
    ks_pvalue: float = 0.05
    drift_share: float = 0.5

    def model(self) -> DriftThresholdsModel:
        return DriftThresholdsModel(psi=self.psi, ks_pvalue=self.ks_pvalue, drift_share=self.drift_share)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index of ``current`` against ``reference`` (quantile bins of the reference):
    ``Σ rel_entr(c, r) + rel_entr(r, c)`` = ``Σ (c − r) · ln(c / r)`` over the bins' shares."""
    from scipy.special import rel_entr

    r, c = bin_shares(reference, current, bins)
    return float(np.sum(rel_entr(c, r) + rel_entr(r, c)))


def bin_shares(
    reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of ``reference`` and ``current`` in the reference's quantile bins (``np.histogram``; each bin
    half-open ``[a, b)``, the outer two open-ended), empty bins floored at 1e-4."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    if edges.size == 0 or np.ptp(reference) == 0:
        centre = float(reference[0])
        edges = np.array([centre - 1e-12, centre + 1e-12])  # below / equal / above a constant
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    r = np.histogram(reference, bounds)[0] / reference.size
    c = np.histogram(current, bounds)[0] / current.size
    return np.maximum(r, _FLOOR), np.maximum(c, _FLOOR)


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic D and its p-value: ``scipy.stats.ks_2samp`` (two-sided, ``method='auto'``:
    exact for samples of up to 10,000 rows, asymptotic above)."""
    from scipy import stats

    res = stats.ks_2samp(a, b)
    return float(res.statistic), float(res.pvalue)


def compare(
    reference: Matrix, current: Matrix, names: list[str], t: DriftThresholds
) -> tuple[dict[str, FeatureDrift], list[str]]:
    """Per-feature drift and the names of the features that drifted."""
    out: dict[str, FeatureDrift] = {}
    for j, name in enumerate(names):
        ref, cur = reference[:, j], current[:, j]
        p = psi(ref, cur)
        d, pvalue = ks_2samp(ref, cur)
        out[name] = FeatureDrift(
            psi=round(p, 6),
            ks_statistic=round(d, 6),
            ks_pvalue=float(f"{pvalue:.6g}"),
            drifted=bool(pvalue < t.ks_pvalue and p >= t.psi),
            reference_mean=float(ref.mean()),
            current_mean=float(cur.mean()),
        )
    return out, [n for n, f in out.items() if f.drifted]


def training_reference(loaded: LoadedModel) -> tuple[Matrix, str]:
    """The version's stored training sample, else a sample drawn from its per-feature statistics."""
    names = [f.name for f in loaded.info.features]
    sample = loaded.extra.get("sample")
    if sample:
        arr = np.asarray(sample, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == len(names) and arr.shape[0] >= MIN_ROWS:
            return arr, "training_sample"
    stats = loaded.info.stats
    if stats and all(n in stats for n in names):
        rng = np.random.default_rng(0)
        cols = []
        for n in names:
            s = stats[n]
            col = rng.normal(s.get("mean", 0.0), max(s.get("std", 0.0), 1e-12), 1000)
            cols.append(np.clip(col, s.get("min", -np.inf), s.get("max", np.inf)))
        return np.column_stack(cols), "training_stats"
    raise InvalidInput(
        f"{loaded.info.name}@{loaded.info.version} stored no training sample or statistics to compare with",
        "pass `reference`: records from the data it was trained on",
    )


def summarize(result: DriftResult) -> DriftSummary:
    return DriftSummary(
        drift_detected=result.drift_detected,
        dataset_drift_score=result.dataset_drift_score,
        n_drifted=result.n_drifted,
        total=result.total,
        drifted_features=[n for n, f in result.feature_drift.items() if f.drifted],
    )


def record_check(
    reg: MlflowRegistry, name: str, version: int, result: DriftResult, by: str, data_digest: str | None = None
) -> None:
    """Write the check on the version: what ``require_drift_check`` reads. ``by`` must hold ``ml:manage``;
    ``data_digest`` is ``input_digest`` of the current rows (the gate refuses a record without one)."""
    drifted = [n for n, f in result.feature_drift.items() if f.drifted]
    value = {
        "at": now_iso(),
        "by": by,
        "data_digest": data_digest,
        "passed": not result.drift_detected,
        "dataset_drift_score": result.dataset_drift_score,
        "n_drifted": result.n_drifted,
        "total": result.total,
        "drifted": drifted[:20],
        "rows": result.rows.get("current", 0),
        "reference": result.reference,
    }
    reg.set_tag(name, version, TAG_DRIFT, json.dumps(value))


def report(
    names: list[str], stamp: ModelStamp, reference: Matrix, current: Matrix, kind: str, t: DriftThresholds
) -> DriftResult:
    """The drift of ``current`` against ``reference`` (columns in ``names`` order)."""
    for what, m in (("reference", reference), ("current", current)):
        if m.shape[0] < MIN_ROWS:
            raise InvalidInput(
                f"{what} has {m.shape[0]} rows; a drift check needs at least {MIN_ROWS}", "send more rows"
            )
    features, drifted = compare(reference, current, names, t)
    share = len(drifted) / len(names)
    detected = share >= t.drift_share
    shown = ", ".join(drifted[:10]) + (" …" if len(drifted) > 10 else "")
    message = (
        f"dataset drift: {len(drifted)} of {len(names)} features drifted ({shown})"
        if detected
        else f"no dataset drift: {len(drifted)} of {len(names)} features drifted"
        + (f" ({shown})" if drifted else "")
    )
    return DriftResult(
        model=stamp,
        drift_detected=detected,
        dataset_drift_score=round(share, 6),
        n_drifted=len(drifted),
        total=len(names),
        feature_drift=features,
        thresholds=t.model(),
        reference=kind,
        rows={"reference": int(reference.shape[0]), "current": int(current.shape[0])},
        recorded=False,
        message=message,
    )


async def check_drift(
    rt: Runtime,
    model: str,
    current: Any,
    reference: Any | None = None,
    *,
    caller: Caller,
    thresholds: DriftThresholds | None = None,
    record: bool = True,
) -> DriftResult:
    """Drift of ``current`` records against ``model``'s training data (or ``reference`` records)."""
    loaded, stamp = await rt.models.acquire(model)
    feats = loaded.info.features
    if not feats:
        raise InvalidInput(
            f"{stamp.name}@{stamp.version} takes no tabular features, so drift cannot be measured",
            "drift checks work on models called with records (ml_predict, ml_classify)",
        )
    s = rt.settings
    cur = to_matrix(current, feats, max_rows=s.max_rows, max_cells=s.max_cells)
    if reference is None:
        ref, kind = training_reference(loaded)
    else:
        ref, kind = to_matrix(reference, feats, max_rows=s.max_rows, max_cells=s.max_cells), "supplied"
    names, t = [f.name for f in feats], thresholds or DriftThresholds()
    # SciPy's KS test costs 0.5-25 ms a feature (bench/drift_stats.py): off the event loop
    result = await anyio.to_thread.run_sync(lambda: report(names, stamp, ref, cur, kind, t))
    resolver = rt.models.resolver
    from_registry = rt.models.parse(model).source == "registry"
    if not (record and kind != "supplied" and from_registry and isinstance(resolver, MlflowResolver)):
        return result
    if not caller.may(RECORD_SCOPE):
        result.message += (
            f"; not recorded on the version: recording a drift check for require_drift_check "
            f"needs the scope {RECORD_SCOPE}, which this caller was not granted"
        )
        return result
    # of the rows as records, in whichever form they came (as ml_retrain's data digest): the same rows, one digest
    digest = await anyio.to_thread.run_sync(lambda: input_digest(as_records(current)))
    await anyio.to_thread.run_sync(
        lambda: record_check(resolver.registry, stamp.name, stamp.version, result, caller.subject, digest)
    )
    result.recorded = True
    result.message += f"; recorded on the version for require_drift_check (data sha256 {digest[:12]}…)"
    return result
