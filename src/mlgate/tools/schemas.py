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


class PredictResult(BaseModel):
    model: ModelStamp
    predictions: list[float | list[float]]


class ClassifyResult(BaseModel):
    model: ModelStamp
    labels: list[str]
    probabilities: list[dict[str, float]]


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
