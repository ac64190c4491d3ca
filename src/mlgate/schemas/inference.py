"""Results of the five inference tools."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mlgate.schemas.stamp import ModelStamp, WarningsField

IdsField: Any = Field(default_factory=list, description="captured predictions' ids (empty: not captured)")


class PredictResult(BaseModel):
    model: ModelStamp
    predictions: list[float | list[float]]
    warnings: list[str] = WarningsField
    prediction_ids: list[str] = IdsField


class ClassifyResult(BaseModel):
    model: ModelStamp
    labels: list[str]
    probabilities: list[dict[str, float]]
    warnings: list[str] = WarningsField
    prediction_ids: list[str] = IdsField


class IntervalBand(BaseModel):
    level: float
    lower: list[float]
    upper: list[float]


class ForecastResult(BaseModel):
    model: ModelStamp
    horizon: int
    forecast: list[float]
    intervals: list[IntervalBand]
    warnings: list[str] = WarningsField
    prediction_ids: list[str] = IdsField


class Segment(BaseModel):
    start: int
    end: int = Field(description="exclusive")
    mean: float


class SegmentResult(BaseModel):
    model: ModelStamp
    breakpoints: list[int]
    segments: list[Segment]
    warnings: list[str] = WarningsField
    prediction_ids: list[str] = IdsField


class TextResult(BaseModel):
    label: str
    score: float


class AnalyzeResult(BaseModel):
    model: ModelStamp
    results: list[TextResult]
    warnings: list[str] = WarningsField
    prediction_ids: list[str] = IdsField
