"""Typed results of the tools: each becomes the tool's output schema.

Fields may be added, never renamed: agents and tests outside rely on these names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ModelStamp(BaseModel):
    """Exactly which version ran."""

    name: str
    version: int
    ref: str = Field(description="the reference as the caller wrote it")
    sha256: str | None = Field(description="digest of the version's artifact, verified at load")


WarningsField: Any = Field(default_factory=list, description="guard rules that flagged the input (mode warn)")


class PredictResult(BaseModel):
    model: ModelStamp
    predictions: list[float | list[float]]
    warnings: list[str] = WarningsField


class ClassifyResult(BaseModel):
    model: ModelStamp
    labels: list[str]
    probabilities: list[dict[str, float]]
    warnings: list[str] = WarningsField


class IntervalBand(BaseModel):
    level: float
    lower: list[float]
    upper: list[float]


class ForecastResult(BaseModel):
    model: ModelStamp
    horizon: int
    forecast: list[float]
    intervals: list[IntervalBand]


class Segment(BaseModel):
    start: int
    end: int = Field(description="exclusive")
    mean: float


class SegmentResult(BaseModel):
    model: ModelStamp
    breakpoints: list[int]
    segments: list[Segment]


class TextResult(BaseModel):
    label: str
    score: float


class AnalyzeResult(BaseModel):
    model: ModelStamp
    results: list[TextResult]


class VersionSummary(BaseModel):
    version: int
    aliases: list[str]
    interfaces: list[str]
    metrics: dict[str, float]
    stage: str | None = None
    created_at: int | None = None


class ModelSummary(BaseModel):
    name: str
    versions: list[VersionSummary]


class ListModelsResult(BaseModel):
    models: list[ModelSummary]


class FeatureInfo(BaseModel):
    name: str
    type: str
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


class StageEvent(BaseModel):
    """One change of a version's lifecycle stage (newest last)."""

    stage: str
    at: str = Field(description="ISO 8601, UTC")
    by: str = Field(description="who made the change ('' for the registration)")
    previous: str | None = None
    note: str = ""


class ModelInfoResult(BaseModel):
    model: ModelStamp
    interfaces: list[str]
    flavor: str
    features: list[FeatureInfo]
    metrics: dict[str, float]
    aliases: list[str]
    stage: str | None = None
    lineage: dict[str, str]
    description: str = ""
    example: dict[str, Any] | None = Field(default=None, description="a call that works, to copy")
    resource: str = Field(description="the MCP resource holding this version's card")
    stage_history: list[StageEvent] = Field(default_factory=list, description="lifecycle changes, oldest first")


class HaltResult(BaseModel):
    halted: bool
    scope: str = Field(description="a model name, or '*' for all serving")
    by: str
    at: str
    reason: str


class ResumeResult(BaseModel):
    resumed: bool = Field(description="false when nothing was halted at that scope")
    scope: str
    by: str


class HaltInfo(BaseModel):
    scope: str
    reason: str
    by: str
    at: str


class CachedModel(BaseModel):
    name: str
    version: int
    bytes: int
    interfaces: list[str]


class ServingStatus(BaseModel):
    halts: list[HaltInfo]
    models: list[CachedModel] = Field(description="versions loaded in this process, with their memory")
    queues: dict[str, dict[str, Any]] = Field(description="per batched model: depth, batch sizes, latency")
    cache: dict[str, int]
    breakers: dict[str, Any]
    latency: dict[str, dict[str, float | None]] = Field(description="per tool, p50/p99 in ms")
    ledger: dict[str, Any]
    uptime_s: float
