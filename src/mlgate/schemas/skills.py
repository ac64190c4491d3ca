"""Typed results of ``ml_list_skills`` and ``ml_run_skill`` (their output schemas).

Fields may be added, never renamed: agents and tests outside rely on these names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mlgate.schemas.handles import nullable
from mlgate.schemas.stamp import ModelStamp

StepOutcome = Literal["ok", "error", "halted", "cancelled", "skipped", "running"]
RunStatus = Literal["running", "ok", "error", "halted", "cancelled"]


class StepSummary(BaseModel):
    id: str
    call: str = Field(
        description="the interface the step calls: predict, classify, forecast, segment, analyze"
    )
    models: list[str] = Field(description="the pinned refs it may run (several for a route map)")
    route: str | None = Field(default=None, description="the binding whose value picks the model")


class SkillSummary(BaseModel):
    name: str
    version: int | None
    digest: str = Field(description="SHA-256 of the spec file's bytes, as found now")
    locked: bool = Field(description="the digest equals the one skills.lock records for name@version")
    description: str
    runnable: bool = Field(description="locked and valid: ml_run_skill will accept it")
    locked_digest: str | None = Field(default=None, description="what skills.lock records (when it differs)")
    error: str | None = Field(default=None, description="why it cannot run, when it cannot")
    source: str = Field(description="'builtin:<file>' or 'custom:<file>' (MLGATE_SKILLS_DIR)")
    inputs: dict[str, Any] = Field(default_factory=dict, description="JSON Schema of the `inputs` argument")
    outputs: list[str] = Field(default_factory=list)
    steps: list[StepSummary] = Field(default_factory=list)
    example: dict[str, Any] | None = Field(default=None, description="`inputs` that work, to copy")


class ListSkillsResult(BaseModel):
    skills: list[SkillSummary]


class StepTrace(BaseModel):
    id: str
    call: str
    outcome: StepOutcome = "skipped"
    model: ModelStamp | None = Field(default=None, description="exactly which version ran")
    route: str | None = Field(default=None, description="the value that chose the model, for a route map")
    duration_ms: float = 0.0
    error: str | None = None


class RunSkillShape(BaseModel):
    """ml_run_skill's result as its job handle carries it (``schemas/handles.py``)."""

    run_id: str | None
    skill: str = Field(description="name@version")
    digest: str | None
    status: RunStatus
    outputs: dict[str, Any] | None
    steps: Annotated[list[StepTrace] | None, nullable("array")]


class RunSkillResult(RunSkillShape):
    run_id: str = Field(description="the id of this run in the state database")
    digest: str = Field(description="SHA-256 of the spec that ran (equal to its lock entry)")
    outputs: dict[str, Any]
    steps: list[StepTrace]
