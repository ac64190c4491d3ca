"""Typed results of the lifecycle tools (promote, rollback, compare, drift, retrain).

Fields may be added, never renamed: the names in the contract (README.md, the tool table) are public.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from mlgate.schemas.handles import NullableStamp, nullable
from mlgate.schemas.stamp import ModelStamp


class GateOutcome(BaseModel):
    """One gate checked against a version."""

    gate: str = Field(description="e.g. 'min_r2', 'max_mae', 'require_drift_check'")
    metric: str | None = Field(default=None, description="the metric the gate reads, if any")
    threshold: float | bool
    actual: float | bool | None = Field(description="the version's value; null when it has none")
    passed: bool
    source: str = Field(description="'call' (this request) or 'stored' (the model's gates)")
    reason: str


class PromoteResult(BaseModel):
    model: ModelStamp = Field(description="the version asked to be promoted")
    to: str
    promoted: bool
    failed_gates: list[GateOutcome] = Field(
        description="every gate that failed, with actual value and threshold"
    )
    archived: int | None = Field(default=None, description="the version that left production, now archived")
    previous: int | None = Field(default=None, description="the version that held the stage before")
    gates: list[GateOutcome] = Field(default_factory=list, description="every gate checked")
    forced: bool = False
    skipped_gates: list[str] = Field(default_factory=list, description="gates skipped by force (recorded)")
    message: str


class RollbackResult(BaseModel):
    model: ModelStamp = Field(description="the version serving production now")
    production: int = Field(description="the version serving production now")
    archived: int | None = Field(description="the version that was serving production and is now archived")
    message: str


class StageChangeResult(BaseModel):
    model: ModelStamp
    stage: str
    previous_stage: str | None
    removed_aliases: list[str]
    message: str


class CompareVersion(BaseModel):
    version: int
    stage: str | None
    aliases: list[str]
    created_at: int | None


class CompareResult(BaseModel):
    name: str
    baseline: int = Field(description="deltas are version minus this version (production when compared)")
    versions: list[CompareVersion]
    metrics: dict[str, dict[str, float | None]] = Field(description="metric → {version: value}")
    deltas: dict[str, dict[str, float | None]] = Field(description="metric → {version: value - baseline}")
    better: dict[str, str] = Field(description="metric → 'higher' or 'lower' is better, for known metrics")
    best: dict[str, int] = Field(description="metric → the best version, for metrics with a known direction")


class FeatureDrift(BaseModel):
    psi: float = Field(description="population stability index (quantile bins of the reference)")
    ks_statistic: float = Field(description="two-sample Kolmogorov–Smirnov statistic D")
    ks_pvalue: float
    drifted: bool
    reference_mean: float
    current_mean: float


class DriftThresholdsModel(BaseModel):
    psi: float = Field(description="a feature drifts when its PSI is at least this …")
    ks_pvalue: float = Field(description="… and its KS p-value is below this")
    drift_share: float = Field(description="the dataset drifts when this fraction of features drift")


class DriftResult(BaseModel):
    model: ModelStamp
    drift_detected: bool
    dataset_drift_score: float = Field(description="fraction of features that drifted")
    n_drifted: int
    total: int
    feature_drift: dict[str, FeatureDrift]
    thresholds: DriftThresholdsModel
    reference: str = Field(description="'training_sample', 'training_stats' or 'supplied'")
    rows: dict[str, int] = Field(description="rows in the reference and in the current data")
    recorded: bool = Field(description="written on the version for the require_drift_check gate")
    message: str


class DriftSummary(BaseModel):
    drift_detected: bool
    dataset_drift_score: float
    n_drifted: int
    total: int
    drifted_features: list[str]


class RetrainData(BaseModel):
    source: str = Field(description="'records' or the file path under MLGATE_DATA_DIR")
    digest: str = Field(description="sha256 of the file, or of the canonical JSON of the records")
    rows: int
    train_rows: int
    holdout_rows: int


class RetrainShape(BaseModel):
    """ml_retrain's result as its job handle carries it (``schemas/handles.py``)."""

    retrained: bool | None
    promoted: bool | None
    drift_summary: Annotated[DriftSummary | None, nullable("object", DriftSummary)]
    candidate: NullableStamp
    incumbent: NullableStamp
    metric: str | None
    metrics: Annotated[dict[str, dict[str, float]] | None, nullable("object")]
    failed_gates: list[GateOutcome] = Field(default_factory=list)
    data: Annotated[RetrainData | None, nullable("object", RetrainData)]
    decisions: Annotated[list[str] | None, nullable("array")]
    promotion: dict[str, Any] | None = Field(default=None, description="the ml_promote result, when tried")


class RetrainResult(RetrainShape):
    retrained: bool
    promoted: bool
    drift_summary: DriftSummary = Field(description="the new data against the incumbent's training sample")
    candidate: ModelStamp | None
    incumbent: ModelStamp
    metric: str = Field(description="the metric that decides 'better'")
    metrics: dict[str, dict[str, float]] = Field(
        description="'incumbent' and 'candidate' on the same holdout"
    )
    data: RetrainData
    decisions: list[str] = Field(description="each step's decision, in order, with its reason")
