"""Results of the five inference tools."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlgate.schemas.stamp import ModelStamp, WarningsField


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
