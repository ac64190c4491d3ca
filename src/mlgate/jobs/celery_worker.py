"""The Celery worker's host process (``mlgate worker``): the one task (``mlgate.run_job``), run on one
asyncio event loop the process keeps (the runtime's model cache, batchers and kill switch live on
it). The app's configuration and the sending side are ``jobs/broker.py``. The runtime and its job
service come from the composition root (``mlgate.compose.build_runtime``, called by ``mlgate worker``),
so a worker serves the same graph as the server: the same model sources, the same services.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from mlgate.jobs.broker import TASK, celery_app

if TYPE_CHECKING:
    from mlgate.jobs.service import JobService
    from mlgate.serving.runtime import Runtime

log = logging.getLogger("mlgate.jobs")


class WorkerHost:
    """The worker process's runtime (with its job service) and event loop, shared by its task threads."""

    current: WorkerHost | None = None

    def __init__(self, rt: Runtime, service: JobService) -> None:
        from mlgate.jobs.runner import worker_id

        if service.rt is not rt:
            raise ValueError("the job service must be the runtime's own (mlgate.compose.build_runtime)")
        self.settings = rt.settings
        self.rt = rt
        self.service = service
        self.worker = worker_id("celery")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mlgate-jobs-loop", daemon=True)
        self.thread.start()
        self.run(self._open())
        asyncio.run_coroutine_threadsafe(self._collect(), self.loop)
        asyncio.run_coroutine_threadsafe(self._reaper(), self.loop)

    def close(self) -> None:
        """Cancel the loop's tasks (the reaper, a job), then stop and close the loop (tests; a process exit)."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

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
    host: WorkerHost, *, concurrency: int, loglevel: str = "INFO", name: str | None = None
) -> None:
    """Start a Celery worker for the host's ``jobs_broker`` in this process (blocks until it stops)."""
    import os

    broker = host.settings.jobs_broker
    assert broker
    WorkerHost.current = host
    app = celery_app(broker)
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
