"""Jobs on Celery workers: the app, the one task (``mlgate.run_job``), and the worker's host process.

The broker message carries only the job id; the arguments, the caller and every state change
live in the state database, so the replica that took the call, the worker that runs the job
and any replica asked about it later agree without a result backend. The worker runs
Celery's ``threads`` pool; each task hands its job to one asyncio event loop the process
keeps (the runtime's model cache, batchers and kill switch live on it) and blocks until the
job ends. A worker killed mid-job stops renewing the job's lease, and whoever reads the job
next (or the reaper loop of any live worker) marks it ``interrupted``, and a starting worker
removes what killed registrations left (``jobs_gc``). Messages are acked when a task starts
(not ``acks_late``): a job is never run twice; a message Redis lost is sent again within a
lease (``JobService.reap``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from typing import Any

from mlgate.config import Settings

TASK = "mlgate.run_job"
log = logging.getLogger("mlgate.jobs")


@functools.cache
def celery_app(broker: str) -> Any:
    from celery import Celery

    app = Celery("mlgate", broker=broker)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue="mlgate-jobs",
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK, ignore_result=True)(_execute)
    return app


def send(broker: str, job_id: str) -> None:
    """Queue ``job_id`` for the workers (blocking: call it in a thread)."""
    celery_app(broker).send_task(TASK, args=[job_id])


class WorkerHost:
    """The worker process's runtime and event loop, shared by its task threads."""

    current: WorkerHost | None = None

    def __init__(self, settings: Settings) -> None:
        from mlgate.serving.runtime import Runtime
        from mlgate.supply.jobs import worker_id
        from mlgate.supply.jobs_service import jobs_for

        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mlgate-jobs-loop", daemon=True)
        self.thread.start()
        self.rt = Runtime(settings, transport="worker")
        self.worker = worker_id("celery")
        self.service = jobs_for(self.rt)
        self.run(self._open())
        asyncio.run_coroutine_threadsafe(self._collect(), self.loop)
        asyncio.run_coroutine_threadsafe(self._reaper(), self.loop)

    async def _open(self) -> None:
        _ = self.service.store  # create the table before the first task

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def _collect(self) -> None:
        """At start: remove what registrations killed with a former worker left (``supply/jobs_gc.py``)."""
        import anyio

        from mlgate.supply.jobs_gc import collect

        try:
            await self.service.reap()
            await anyio.to_thread.run_sync(collect, self.settings, self.service.store)
        except Exception:
            log.warning("collecting orphaned registrations failed", exc_info=True)

    async def _reaper(self) -> None:
        """Mark jobs of dead workers interrupted within a lease interval, even if nobody asks about them."""
        import anyio

        while True:
            await anyio.sleep(max(0.5, self.settings.job_lease_s / 2))
            try:
                await self.service.reap()
            except Exception:
                log.warning("reaping expired jobs failed", exc_info=True)

    async def _job(self, job_id: str) -> None:
        from mlgate.supply.jobs import run_job
        from mlgate.supply.jobs_work import WORK

        await run_job(self.rt, self.service.store, WORK, job_id, self.worker, self.settings.job_lease_s)


def _execute(job_id: str) -> None:
    host = WorkerHost.current
    if host is None:
        raise RuntimeError("mlgate.run_job runs inside `mlgate worker` only")
    host.run(host._job(job_id))


def run_worker(
    settings: Settings, *, concurrency: int, loglevel: str = "INFO", name: str | None = None
) -> None:
    """Start a Celery worker for ``settings.jobs_broker`` in this process (blocks until it stops)."""
    import os

    assert settings.jobs_broker
    WorkerHost.current = WorkerHost(settings)
    argv = [
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
        "--hostname",
        name or f"mlgate-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--queues",
        "mlgate-jobs",
    ]
    celery_app(settings.jobs_broker).worker_main(argv)
