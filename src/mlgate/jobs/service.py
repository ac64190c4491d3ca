"""Submitting jobs, waiting for them, reading and cancelling them: one ``JobService`` per runtime,
built with it by the composition root (``mlgate.compose.build_runtime``).

Where a job runs depends on ``MLGATE_JOBS_BROKER``: unset, in this process (an asyncio task
per job, at most ``MLGATE_JOB_WORKERS`` running at once, the rest ``queued``); set, on the
Celery workers (``mlgate worker``) behind that broker. Either way the state database holds
the job, so any replica can wait for, report or cancel any job. Reads and submits reap first:
running jobs whose lease ran out become ``interrupted`` (with their ledger row) before anyone
sees them — so a repeated call never attaches to a dead job — and queued jobs nobody claimed
within a lease (a broker message lost with a Redis restart, a replica gone with its local
queue) are dispatched again; the conditional claim runs each job once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

import anyio

from mlgate.artifacts import json_sha256 as input_digest
from mlgate.auth.caller import Caller
from mlgate.errors import NotFound, Unavailable
from mlgate.jobs.broker import Broker, CeleryBroker
from mlgate.jobs.runner import JobInterrupted, caller_json, caller_of, run_job, worker_id
from mlgate.jobs.work import WORK
from mlgate.schemas.jobs import FINAL
from mlgate.serving.runtime import Runtime
from mlgate.state.jobs import JobRecord, JobStore

Notify = Callable[[float, float | None, str | None], Awaitable[None]]
POLL_S = 0.2


def retrain_submitter(jobs: JobService) -> Callable[[Caller, dict[str, Any]], Awaitable[str]]:
    """What degradation rules call to submit ``ml_retrain`` (lifecycle takes it as a callable)."""

    async def submit(caller: Caller, args: dict[str, Any]) -> str:
        rec, _ = await jobs.submit("ml_retrain", caller, args)
        return rec.id

    return submit


class JobService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings
        self.worker = worker_id("embedded")
        self._slots: anyio.Semaphore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._local: set[str] = set()  # jobs with a task in this process (not started twice here)
        self.broker: Broker = CeleryBroker(rt.settings.jobs_broker or "")

    @cached_property
    def store(self) -> JobStore:
        return JobStore(self.rt.state)

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args))

    # -- submit -------------------------------------------------------------------
    async def submit(self, tool: str, caller: Caller, args: dict[str, Any]) -> tuple[JobRecord, bool]:
        """The job for this work: new (and dispatched), or the active one of the same work (deduplicated).

        Reaps first: an active job of the same work whose worker died is ended before, not attached to."""
        await self.reap()
        rec, created = await self._call(
            self.store.submit, tool, caller_json(caller), args, input_digest(args), self.settings.job_lease_s
        )
        if created:
            await self._dispatch(rec)
        return rec, created

    async def _dispatch(self, rec: JobRecord) -> None:
        """Hand a queued job to the workers: the broker's, or a task in this process."""
        if not self.settings.jobs_broker:
            self._start_local(rec.id)
            return
        try:
            await self._call(self.broker.send, rec.id)
        except Exception as exc:
            why = f"the job broker is unreachable ({type(exc).__name__})"
            await self._call(
                lambda: self.store.finish(rec.id, "failed", error=why, error_class="Unavailable")
            )
            raise Unavailable(
                why, "check MLGATE_JOBS_BROKER and that Redis is up; then submit it again"
            ) from None

    def _start_local(self, job_id: str) -> None:
        """A task on this event loop, outside the calling request: a finished call leaves its job running."""
        if job_id in self._local:
            return
        self._local.add(job_id)
        task = asyncio.get_running_loop().create_task(self._run_local(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_local(self, job_id: str) -> None:
        if self._slots is None:
            self._slots = anyio.Semaphore(self.settings.job_workers)
        try:
            async with self._slots:
                await run_job(
                    self.rt, self.store, WORK, job_id, self.worker, self.settings.job_lease_s, self._pushed
                )
        finally:
            self._local.discard(job_id)

    async def _pushed(self, job_id: str, done: float, total: float | None, message: str | None) -> None:
        for waiter in list(self._waiters.get(job_id, ())):
            await waiter.forward(done, total, message)

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait for this process's running jobs (tests, shutdown)."""
        with anyio.move_on_after(timeout):
            while self._tasks:
                await anyio.sleep(0.05)

    # -- read ---------------------------------------------------------------------
    async def reap(self) -> list[JobRecord]:
        """Mark jobs whose lease ran out ``interrupted``, each with its ledger end row; dispatch again the
        queued jobs nobody claimed within their lease (a lost message fails only if the broker is down)."""
        reaped: list[JobRecord] = await self._call(self.store.reap)
        for rec in reaped:
            err = JobInterrupted(
                rec.error or "interrupted", "submit it again; nothing after its last step ran"
            )
            self.rt.record(f"job.end:{rec.tool}"[:64], caller_of(rec), {}, None, time.perf_counter(), err)
        stale: list[JobRecord] = await self._call(self.store.resend, self.settings.job_lease_s)
        for rec in stale:
            with contextlib.suppress(Unavailable):  # then the job was failed, with the reason
                await self._dispatch(rec)
        return reaped

    async def get(self, job_id: str, caller: Caller | None = None) -> JobRecord:
        """The job, if ``caller`` (when given) submitted it or is an admin; else ``NotFound``."""
        await self.reap()
        rec: JobRecord | None = await self._call(self.store.get, job_id)
        if rec is None or (caller is not None and not (caller.is_admin or rec.subject == caller.subject)):
            raise NotFound(f"no job {job_id!r} of yours", "list your jobs with ml_list_jobs")
        return rec

    async def list(self, caller: Caller, status: str | None, limit: int) -> list[JobRecord]:
        await self.reap()
        subject = None if caller.is_admin else caller.subject
        found: list[JobRecord] = await self._call(self.store.recent, subject, status, limit)
        return found

    # -- wait and cancel ------------------------------------------------------------
    async def wait(self, job_id: str, budget: float, notify: Notify | None = None) -> JobRecord:
        """Poll the job until it ends or ``budget`` seconds pass, forwarding new progress to ``notify``.

        If the waiting call is cancelled (the client sent notifications/cancelled), the job is cancelled too.
        """
        waiter = _Waiter(notify)
        self._waiters.setdefault(job_id, []).append(waiter)
        deadline = time.monotonic() + budget
        try:
            while True:
                rec = await self.get(job_id)
                if rec.message and rec.status == "running":
                    await waiter.forward(rec.done, rec.total, rec.message)
                if rec.status in FINAL or time.monotonic() >= deadline:
                    return rec
                await anyio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._call(self.store.request_cancel, job_id)
            raise
        finally:
            self._waiters[job_id].remove(waiter)
            if not self._waiters[job_id]:
                del self._waiters[job_id]

    async def cancel(self, job_id: str, caller: Caller, settle_s: float = 5.0) -> JobRecord:
        """Request the cancel, then wait up to ``settle_s`` for the job to stop."""
        rec = await self.get(job_id, caller)
        if rec.status in FINAL:
            return rec
        await self._call(self.store.request_cancel, job_id)
        return await self.wait(job_id, settle_s)


class _Waiter:
    """One waiting call's progress stream: pushed by a job in this process, or polled from the database;
    forwarded only when it moves forward (MCP progress must increase)."""

    def __init__(self, notify: Notify | None) -> None:
        self.notify = notify
        self.last = -1.0

    async def forward(self, done: float, total: float | None, message: str | None) -> None:
        if self.notify is not None and done > self.last:
            self.last = done
            await self.notify(done, total, message)
