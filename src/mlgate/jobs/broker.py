"""The broker behind jobs: a small Protocol, and Celery's (the app's configuration and sending).

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

import functools
import logging
from typing import Any, Protocol

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
    return app


def send(broker: str, job_id: str) -> None:
    """Queue ``job_id`` for the workers (blocking: call it in a thread)."""
    celery_app(broker).send_task(TASK, args=[job_id])


class Broker(Protocol):
    """Where a queued job's id goes so that a worker picks it up (blocking: call it in a thread)."""

    def send(self, job_id: str) -> None: ...


class CeleryBroker:
    """``MLGATE_JOBS_BROKER=redis://…``: the job's id as a Celery message (the worker side is
    ``jobs/celery_worker.py``, which registers the task)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, job_id: str) -> None:
        send(self.url, job_id)
