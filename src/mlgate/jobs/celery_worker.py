"""The Celery worker's host process (``mlgate worker``): the one task (``mlgate.run_job``), run on one
asyncio event loop the process keeps (the runtime's model cache, batchers and kill switch live on
it). The app's configuration and the sending side are ``jobs/broker.py``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from mlgate.config import Settings
from mlgate.jobs.broker import TASK, celery_app

log = logging.getLogger("mlgate.jobs")


class WorkerHost:
    """The worker process's runtime and event loop, shared by its task threads."""

    current: WorkerHost | None = None

    def __init__(self, settings: Settings) -> None:
        from mlgate.jobs.runner import worker_id
        from mlgate.jobs.service import jobs_for
        from mlgate.serving.runtime import Runtime

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
        """At start: remove what registrations killed with a former worker left (``jobs/gc.py``)."""
        import anyio

        from mlgate.jobs.gc import collect

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
        from mlgate.jobs.runner import run_job
        from mlgate.jobs.work import WORK

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
    app = celery_app(settings.jobs_broker)
    if TASK not in app.tasks:
        app.task(name=TASK, ignore_result=True)(_execute)
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
    app.worker_main(argv)
