"""Running one job: claim it, renew its lease, record progress, stop on a cancel, record its end.

The same code runs a job in the server process (the embedded pool, ``jobs_service``) and in
a Celery worker (``jobs_celery``): both call ``run_job`` with the job's id, and the state
database is the only channel between the process that took the call and the one doing the
work. Cancellation is cooperative: a cancel request (a flag on the row) is noticed at the
next progress step, or by the lease loop within a second, and stops the work through an
anyio cancel scope — but only before the job's *commit point* (the step that registers a
version). From there on the job finishes, so a cancel never leaves half a registration.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel

from mlgate.artifacts import storage_error
from mlgate.auth.caller import Caller
from mlgate.errors import JobCancelled as JobCancelled
from mlgate.errors import JobFailed as JobFailed
from mlgate.errors import JobInterrupted as JobInterrupted
from mlgate.errors import MlgateError
from mlgate.models.pending import current_job
from mlgate.schemas.jobs import JobStatus
from mlgate.serving.runtime import Runtime
from mlgate.state.jobs import JobRecord, JobStore

log = logging.getLogger("mlgate.jobs")
Hook = Callable[[str, float, float | None, str | None], Awaitable[None]]


@dataclass(frozen=True)
class Work:
    """What a job of one tool runs, and from which progress step on it no longer stops for a cancel."""

    run: Callable[[Runtime, Caller, dict[str, Any], Control], Awaitable[BaseModel]]
    commit_at: float | None = None


def worker_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def caller_of(rec: JobRecord) -> Caller:
    c = rec.caller
    return Caller(
        rec.subject,
        str(c.get("client", rec.subject)),
        str(c.get("transport", "job")),
        frozenset(c.get("scopes", [])),
    )


def caller_json(caller: Caller) -> dict[str, Any]:
    return {
        "subject": caller.subject,
        "client": caller.client,
        "transport": caller.transport,
        "scopes": sorted(caller.scopes),
    }


class Control:
    """One running job's link to its row: progress, lease, cancel, commit point."""

    def __init__(
        self,
        store: JobStore,
        rec: JobRecord,
        worker: str,
        lease_s: float,
        commit_at: float | None,
        hook: Hook | None = None,
    ) -> None:
        self.store, self.job_id, self.worker, self.lease_s = store, rec.id, worker, lease_s
        self.commit_at = commit_at
        self.cancel_requested = False
        self.committed = False
        self.lost = False  # the lease was lost (reaped): the work must not go on
        self.scope: anyio.CancelScope | None = None
        self.hook = hook  # in-process: progress straight to the calls waiting in this process

    async def _push(self, done: float, total: float | None, message: str | None) -> None:
        if self.hook is not None:
            try:
                await self.hook(self.job_id, done, total, message)
            except Exception:  # a waiting client that went away must not fail the job
                log.debug("progress hook failed", exc_info=True)

    async def progress(self, done: float, total: float | None, message: str | None) -> None:
        flag = await anyio.to_thread.run_sync(self.store.progress, self.job_id, done, total, message)
        self.cancel_requested = self.cancel_requested or flag
        await self._push(done, total, message)
        if self.commit_at is not None and done >= self.commit_at and not self.cancel_requested:
            self.committed = True  # this step registers: from here on the job finishes
        await self.checkpoint()

    async def checkpoint(self) -> None:
        """Raise ``JobCancelled`` if a cancel was requested and the commit point is not passed."""
        if (self.cancel_requested or self.lost) and not self.committed:
            raise JobCancelled(
                f"job {self.job_id} was cancelled", "nothing was registered; submit it again if needed"
            )

    def commit(self) -> None:
        """Called right before an irreversible step (a registration): cancels are ignored from here on."""
        self.committed = True

    async def watch(self) -> None:
        """Renew the lease every third of it (at most each second) and notice cancel requests."""
        every = min(1.0, self.lease_s / 3)
        while True:
            await anyio.sleep(every)
            try:
                ours, flag = await anyio.to_thread.run_sync(
                    self.store.heartbeat, self.job_id, self.worker, self.lease_s
                )
            except Exception:  # the database is away: keep trying; the lease decides
                log.warning("job %s: lease renewal failed", self.job_id, exc_info=True)
                continue
            self.lost = not ours
            self.cancel_requested = self.cancel_requested or flag
            if (flag or self.lost) and not self.committed and self.scope is not None:
                self.scope.cancel()


async def run_job(
    rt: Runtime,
    store: JobStore,
    work: dict[str, Work],
    job_id: str,
    worker: str,
    lease_s: float,
    hook: Hook | None = None,
) -> JobRecord | None:
    """Run the queued job ``job_id`` to its end; None if it was no longer queued (cancelled, taken)."""
    rec = await anyio.to_thread.run_sync(store.claim, job_id, worker, lease_s)
    if rec is None:
        return None
    caller = caller_of(rec)
    args = dict(rec.args or {})
    t0 = time.perf_counter()
    rt.record(f"job.start:{rec.tool}"[:64], caller, args, None, t0, None)
    spec = work.get(rec.tool)
    control = Control(store, rec, worker, lease_s, spec.commit_at if spec else None, hook)
    outcome: list[BaseModel | Exception] = []

    async def body() -> None:
        token = current_job.set(
            rec.id
        )  # versions it registers name this job while pending (models/pending.py)
        try:
            if spec is None:
                raise JobFailed(f"this worker cannot run {rec.tool} jobs", "upgrade the worker")
            outcome.append(await spec.run(rt, caller, args, control))
        except Exception as exc:
            outcome.append(exc)
        finally:
            current_job.reset(token)

    scope = anyio.CancelScope()
    control.scope = scope
    try:
        # the lease is renewed until the work has wound down: a cancel waits for its thread (in_thread),
        # which may take longer than a lease; the job must end cancelled, not reaped as interrupted
        async with anyio.create_task_group() as tg:
            tg.start_soon(control.watch)
            with scope:
                await body()
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await _finish(
                rt, store, rec, caller, args, t0, _error(rec, outcome, scope.cancelled_caught), outcome
            )
    return await anyio.to_thread.run_sync(store.get, job_id)


def _error(rec: JobRecord, outcome: list[BaseModel | Exception], cancelled: bool) -> Exception | None:
    if not outcome:  # stopped by a cancel request or a lost lease (our scope), or by process shutdown
        return (
            JobCancelled(f"job {rec.id} was cancelled", "nothing was registered")
            if cancelled
            else JobInterrupted(f"job {rec.id} stopped with its process", "submit it again")
        )
    found = outcome[0]
    if isinstance(found, MlgateError):
        return found
    if isinstance(found, Exception):
        log.error("job %s (%s) failed", rec.id, rec.tool, exc_info=found)
        storage = storage_error(found)  # a full or read-only store is said as such (never a path)
        if storage is not None:
            return storage
        return JobFailed(
            f"{rec.tool} failed inside the worker ({type(found).__name__}; job {rec.id})",
            "the operator's log has details",
        )
    return None


async def _finish(
    rt: Runtime,
    store: JobStore,
    rec: JobRecord,
    caller: Caller,
    args: dict[str, Any],
    t0: float,
    error: Exception | None,
    outcome: list[BaseModel | Exception],
) -> None:
    result = outcome[0] if error is None and outcome and isinstance(outcome[0], BaseModel) else None
    if result is not None:
        dumped = result.model_dump(mode="json")
        await anyio.to_thread.run_sync(lambda: store.finish(rec.id, "succeeded", result=dumped))
    else:
        err = error or JobFailed(f"job {rec.id} ended without a result")
        status: JobStatus = "failed"
        if isinstance(err, JobCancelled):
            status = "cancelled"
        elif isinstance(err, JobInterrupted):
            status = "interrupted"
        await anyio.to_thread.run_sync(
            lambda: store.finish(rec.id, status, error=str(err), error_class=type(err).__name__)
        )
    seq = rt.record(f"job.end:{rec.tool}"[:64], caller, args, result, t0, error)
    try:
        await rt.committed(seq)
    except MlgateError:
        log.warning("job %s: its end row could not be committed to the ledger", rec.id)


def rebuild_error(rec: JobRecord) -> MlgateError:
    """The error of a failed, cancelled or interrupted job, as the tool call would have raised it."""
    import mlgate.errors as errors

    classes: dict[str, type[MlgateError]] = {
        "JobCancelled": JobCancelled,
        "JobInterrupted": JobInterrupted,
        "JobFailed": JobFailed,
    }
    found = classes.get(rec.error_class or "") or getattr(errors, rec.error_class or "", None)
    cls = found if isinstance(found, type) and issubclass(found, MlgateError) else JobFailed
    err = cls.__new__(cls)
    MlgateError.__init__(err, rec.error or f"job {rec.id} {rec.status}")
    return err
