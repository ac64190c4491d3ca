"""Typed results of the job tools (ml_job, ml_job_cancel, ml_list_jobs) and the replies of the long tools.

A long tool (ml_pull, ml_compile, ml_retrain, a multi-step ml_run_skill) answers with its
usual result when its job finishes within ``MLGATE_JOB_WAIT_S``; past that budget it answers
with a *handle*: the same result type, ``job`` set, and the fields that only exist on
completion null. The ``*Reply`` models below are those result types with exactly those
fields nullable but still required (always sent, null in a handle), so a client that
validates against the output schema accepts both shapes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from mlgate.schemas.lifecycle import (
    DriftSummary,
    RetrainData,
    RetrainResult,
)
from mlgate.schemas.skills import RunSkillResult, StepTrace
from mlgate.schemas.stamp import ModelStamp
from mlgate.schemas.supply import CompiledArtifact, CompileResult, ParityReport, PulledFile, PullResult

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
ACTIVE: tuple[JobStatus, ...] = ("queued", "running")
FINAL: tuple[JobStatus, ...] = ("succeeded", "failed", "cancelled", "interrupted")


class JobProgress(BaseModel):
    done: float = 0.0
    total: float | None = None
    message: str | None = None


class JobRef(BaseModel):
    """What a long tool's result carries about its job."""

    job_id: str
    status: JobStatus
    next: str = Field(description="what to do to get the result")


class JobInfo(BaseModel):
    job_id: str
    tool: str
    status: JobStatus
    progress: JobProgress = Field(default_factory=JobProgress)
    result: dict[str, Any] | None = Field(default=None, description="the tool's result, once succeeded")
    error: str | None = None
    subject: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    worker: str | None = None


class JobResult(BaseModel):
    """ml_job: the job (the same object ml_list_jobs lists)."""

    job: JobInfo


class JobCancelResult(BaseModel):
    job: JobInfo
    cancelled: bool = Field(description="the job stopped (or never started) and registered nothing")
    message: str


class ListJobsResult(BaseModel):
    jobs: list[JobInfo]


def _nullable(kind: str, model: type[BaseModel] | None = None) -> Any:
    """``{"type": [kind, "null"]}`` (and an object's required fields): the same promise as
    ``anyOf [<object>, null]``, in the few bytes a tools/list can afford."""
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if model is not None:
        schema["required"] = [name for name, f in model.model_fields.items() if f.is_required()]
    return WithJsonSchema(schema)


Job = Annotated[JobRef | None, _nullable("object")]
Stamp = Annotated[ModelStamp | None, _nullable("object", ModelStamp)]


class PullReply(PullResult):
    revision_kind: str | None  # type: ignore[assignment]
    commit: str | None  # type: ignore[assignment]
    ref: str | None  # type: ignore[assignment]
    files: Annotated[list[PulledFile] | None, _nullable("array")]  # type: ignore[assignment]
    manifest_sha256: str | None  # type: ignore[assignment]
    downloaded: int | None  # type: ignore[assignment]
    job: Job = None


class CompileReply(CompileResult):
    source: Stamp  # type: ignore[assignment]
    artifact: Annotated[CompiledArtifact | None, _nullable("object", CompiledArtifact)]  # type: ignore[assignment]
    parity: Annotated[ParityReport | None, _nullable("object", ParityReport)]  # type: ignore[assignment]
    registered: str | None  # type: ignore[assignment]
    model: Stamp  # type: ignore[assignment]
    job: Job = None


class RetrainReply(RetrainResult):
    retrained: bool | None  # type: ignore[assignment]
    promoted: bool | None  # type: ignore[assignment]
    drift_summary: Annotated[DriftSummary | None, _nullable("object", DriftSummary)]  # type: ignore[assignment]
    candidate: Stamp
    incumbent: Stamp  # type: ignore[assignment]
    metric: str | None  # type: ignore[assignment]
    metrics: Annotated[dict[str, dict[str, float]] | None, _nullable("object")]  # type: ignore[assignment]
    data: Annotated[RetrainData | None, _nullable("object", RetrainData)]  # type: ignore[assignment]
    decisions: Annotated[list[str] | None, _nullable("array")]  # type: ignore[assignment]
    job: Job = None


class RunSkillReply(RunSkillResult):
    run_id: str | None  # type: ignore[assignment]
    digest: str | None  # type: ignore[assignment]
    outputs: dict[str, Any] | None  # type: ignore[assignment]
    steps: Annotated[list[StepTrace] | None, _nullable("array")]  # type: ignore[assignment]
    job: Job = None


REPLIES: dict[str, type[BaseModel]] = {
    "ml_pull": PullReply,
    "ml_compile": CompileReply,
    "ml_retrain": RetrainReply,
    "ml_run_skill": RunSkillReply,
}
