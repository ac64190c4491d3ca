"""What the model listing and a version's description carry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mlgate.schemas.stamp import ModelStamp


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
    categories: list[str] | None = Field(default=None, description="training categories: send one")
    unit: str | None = Field(default=None, description="the unit the model expects, as its team declared it")


class StageEvent(BaseModel):
    """One change of a version's lifecycle stage (newest last)."""

    stage: str
    at: str = Field(description="ISO 8601, UTC")
    by: str = Field(description="who made the change ('' for the registration)")
    previous: str | None = None
    note: str = ""


class ForecastForm(BaseModel):
    """How a forecaster is called: a horizon (and history), or the future rows it needs."""

    form: str = Field(description="'horizon': ml_forecast with horizon; 'future': with future rows")
    future_columns: list[str] = Field(
        default_factory=list, description="future form: the columns of each future row, time column first"
    )
    levels: list[float] | None = Field(
        default=None, description="the interval levels it can give; null: any level in (0, 1)"
    )


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
    stage_history: list[StageEvent] = Field(
        default_factory=list, description="lifecycle changes, oldest first"
    )
    runs_code: list[str] = Field(
        default_factory=list, description="what in the artifact runs code when loaded"
    )
    admitted_by: str | None = Field(
        default=None, description="the operator who admitted that code, if one did"
    )
    forecast: ForecastForm | None = Field(
        default=None, description="forecasters, once loadable: the form of the call and the levels it gives"
    )
    classes: list[str] | None = Field(default=None, description="a classifier's labels")
