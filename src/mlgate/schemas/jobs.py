"""Typed results of the job tools (ml_job, ml_job_cancel, ml_list_jobs) and the replies of the long tools.

A long tool (ml_pull, ml_compile, ml_retrain, a multi-step ml_run_skill) answers with its
usual result when its job finishes within ``MLGATE_JOB_WAIT_S``; past that budget it answers
with a *handle*: the same result type, ``job`` set, and the fields that only exist on
completion null. The ``*Reply`` models below are the results' ``*Shape`` models (each result
narrows its shape: ``schemas/handles.py``) plus ``job``: exactly those fields nullable but still
required (always sent, null in a handle), so a client that validates against the output schema
accepts both shapes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mlgate.schemas.handles import nullable
from mlgate.schemas.lifecycle import RetrainShape
from mlgate.schemas.skills import RunSkillShape
from mlgate.schemas.supply import CompileShape, PullShape

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


Job = Annotated[JobRef | None, nullable("object")]


class PullReply(PullShape):
    job: Job = None


class CompileReply(CompileShape):
    job: Job = None


class RetrainReply(RetrainShape):
    job: Job = None


class RunSkillReply(RunSkillShape):
    job: Job = None


REPLIES: dict[str, type[BaseModel]] = {
    "ml_pull": PullReply,
    "ml_compile": CompileReply,
    "ml_retrain": RetrainReply,
    "ml_run_skill": RunSkillReply,
}
