"""``mlgate worker``: a Celery worker that runs the jobs queued on ``MLGATE_JOBS_BROKER`` (see docs/jobs.md)."""

from __future__ import annotations

import sys
from typing import Any

from mlgate.errors import ConfigError


def worker_command(settings: Any, *, concurrency: int | None, loglevel: str) -> int:
    if not settings.jobs_broker:
        raise ConfigError(
            "mlgate worker needs MLGATE_JOBS_BROKER (e.g. redis://127.0.0.1:6379/0); without it "
            "jobs run inside `mlgate serve`"
        )
    try:
        import celery  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError("mlgate worker needs Celery: pip install 'mlgate[jobs]'") from None
    from mlgate.supply.jobs_celery import run_worker

    if settings.state_url is None:
        settings.ensure_home()
    n = concurrency or settings.job_workers
    print(
        f"mlgate worker: {n} job(s) at once from {settings.jobs_broker}; state {settings.state}",
        file=sys.stderr,
    )
    run_worker(settings, concurrency=n, loglevel=loglevel)
    return 0
