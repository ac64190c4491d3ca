"""Results of ml_record_actuals and ml_performance."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CalibrationBin(BaseModel):
    """Predictions whose top-label probability fell in [lower, upper]: mean confidence vs accuracy."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


class VersionQuality(BaseModel):
    version: int
    kind: str
    predictions: int = Field(description="captured in the window")
    matched: int = Field(description="of those, with a usable actual")
    live: dict[str, float]
    registered: dict[str, float]
    calibration: list[CalibrationBin] = Field(default_factory=list)
    alerts: list[str] = Field(default_factory=list)


class PerformanceResult(BaseModel):
    name: str
    window: str
    versions: list[VersionQuality]


class Degradation(BaseModel):
    version: int
    rule: str
    message: str


class ActualsResult(BaseModel):
    name: str
    recorded: int
    duplicates: int = Field(description="actuals that replaced an earlier one (last write wins)")
    unknown: list[str] = Field(description="ids and keys that matched no captured prediction")
    degraded: list[Degradation] = Field(default_factory=list)
    retrain_jobs: list[str] = Field(default_factory=list)
