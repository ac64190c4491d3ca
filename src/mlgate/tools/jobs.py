"""Job tools (ml_job, ml_job_cancel, ml_list_jobs) and ``as_job``, which the long tools call.

A caller sees its own jobs (by token subject); ``ml:admin`` sees everyone's.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar, get_args

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field, WithJsonSchema

from mlgate.jobs.runner import rebuild_error
from mlgate.schemas.jobs import ACTIVE, JobCancelResult, JobRef, JobResult, JobStatus, ListJobsResult
from mlgate.state.jobs import JobRecord
from mlgate.tools.context import caller, jobs, runtime

R = TypeVar("R", bound=BaseModel)
JobId = Annotated[str, Field(max_length=64)]
StatusArg = Annotated[JobStatus | None, WithJsonSchema({"enum": [*get_args(JobStatus), None]})]


def _ref(rec: JobRecord) -> JobRef:
    hint = f"call ml_job with job_id '{rec.id}' for its result" if rec.active else "none: this is the result"
    return JobRef(job_id=rec.id, status=rec.status, next=hint)


async def as_job(
    ctx: Context[Any, Any],
    tool: str,
    args: dict[str, Any],
    reply: type[R],
    known: dict[str, Any] | None = None,
) -> R:
    """Run ``tool(args)`` as a job; stream its progress; its result within MLGATE_JOB_WAIT_S, else a handle.

    A handle is ``reply`` with ``job`` set, ``known`` fields filled and every other required field null.
    """
    rt = runtime(ctx)
    service = jobs(ctx)
    rec, _ = await service.submit(tool, caller(ctx), args)

    async def notify(done: float, total: float | None, message: str | None) -> None:
        await ctx.report_progress(done, total, message)

    rec = await service.wait(rec.id, rt.settings.job_wait_s, notify)
    if rec.status == "succeeded":
        return reply.model_validate({**(rec.result or {}), "job": _ref(rec)})
    if rec.status in ACTIVE:
        fields = {name: (known or {}).get(name) for name, f in reply.model_fields.items() if f.is_required()}
        return reply.model_validate({**fields, "job": _ref(rec)})
    raise rebuild_error(rec)


async def job(job_id: JobId, ctx: Context[Any, Any]) -> JobResult:
    """A long call's job: status, progress, then the result (as the tool returns it)."""
    return JobResult(job=(await jobs(ctx).get(job_id.strip(), caller(ctx))).info())


async def job_cancel(job_id: JobId, ctx: Context[Any, Any]) -> JobCancelResult:
    """Cancel a job: it stops at its next step, registering nothing."""
    rec = await jobs(ctx).cancel(job_id.strip(), caller(ctx))
    stopped = rec.status == "cancelled"
    message = (
        "cancelled; nothing was registered"
        if stopped
        else (f"already {rec.status}" if not rec.active else "cancel requested; it stops at its next step")
    )
    return JobCancelResult(job=rec.info(), cancelled=stopped, message=message)


async def list_jobs(
    ctx: Context[Any, Any],
    status: StatusArg = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 20,
) -> ListJobsResult:
    """Jobs of long calls you started, newest first (ml:admin sees all)."""
    c = caller(ctx)
    found = await jobs(ctx).list(c, status, limit)
    return ListJobsResult(jobs=[r.info() for r in found])
