"""The kill switch's results and the serving status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class HaltResult(BaseModel):
    halted: bool
    scope: str = Field(
        description="a model name, hf:org/repo, sha256:<artifact digest>, or '*' for all serving"
    )
    by: str
    at: str
    reason: str
    covers: list[str] = Field(
        default_factory=list, description="further scopes halted with it: digests of what the scope serves"
    )
    note: str | None = Field(default=None, description="set when the covered scopes could not all be read")


class ResumeResult(BaseModel):
    resumed: bool = Field(description="false when nothing was halted at that scope")
    scope: str
    by: str


class HaltInfo(BaseModel):
    scope: str
    reason: str
    by: str
    at: str
    covers: list[str] = Field(default_factory=list, description="further scopes it reaches (digests)")


class CachedModel(BaseModel):
    name: str
    version: int
    bytes: int
    interfaces: list[str]
    halted_by: str | None = Field(default=None, description="the scope of the halt that stops this version")
    halt_matched: str | None = Field(
        default=None, description="which of this version's scopes matched it (name, hf:org/repo, sha256:…)"
    )


class ModelTraffic(BaseModel):
    """Inference calls (ml_predict, ml_classify, ml_forecast, ml_segment, ml_analyze) of one model in this
    process since it started; rates come from the difference of two readings."""

    model: str = Field(
        description="registered name (hf:org/repo for a Hub snapshot), all versions and aliases"
    )
    calls: int = Field(description="ok + errors + refused")
    ok: int
    errors: int = Field(
        description="failed: bad arguments, wrong interface, the model or engine failing, cancelled by the client"
    )
    refused: int = Field(
        description="declined without an answer: scope, guard rule, halted, overloaded, breaker open"
    )
    p50_ms: float | None = Field(
        description="upper bound of the latency bucket holding the median (all outcomes)"
    )
    p99_ms: float | None


class ServingStatus(BaseModel):
    halts: list[HaltInfo]
    models: list[CachedModel] = Field(description="versions loaded in this process, with their memory")
    queues: dict[str, dict[str, Any]] = Field(description="per batched model: depth, batch sizes, latency")
    cache: dict[str, int]
    breakers: dict[str, Any]
    latency: dict[str, dict[str, float | None]] = Field(description="per tool, p50/p99 in ms")
    ledger: dict[str, Any]
    uptime_s: float
    traffic: list[ModelTraffic] = Field(
        default_factory=list, description="per model that resolved here, busiest first (see ModelTraffic)"
    )
