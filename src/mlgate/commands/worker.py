"""``mlgate worker``: a Celery worker that runs the jobs queued on ``MLGATE_JOBS_BROKER`` (see docs/jobs.md)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    from mlgate.jobs.celery_worker import WorkerHost


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
    from mlgate.jobs.celery_worker import run_worker

    if settings.state_url is None:
        settings.ensure_home()
    n = concurrency or settings.job_workers
    print(
        f"mlgate worker: {n} job(s) at once from {settings.jobs_broker}; state {settings.state}",
        file=sys.stderr,
    )
    run_worker(worker_host(settings), concurrency=n, loglevel=loglevel)
    return 0


def worker_host(settings: Any) -> WorkerHost:
    """The worker's host process state on the graph of ``mlgate.compose.build_runtime``."""
    from mlgate.compose import build_runtime
    from mlgate.jobs.celery_worker import WorkerHost

    app = build_runtime(settings, transport="worker")
    return WorkerHost(app.runtime, app.jobs)


def jobs_gc_command(settings: Any, *, older_than: float, as_json: bool) -> int:
    """``mlgate jobs gc``: remove what killed registrations left (pending versions, their files, staging
    folders); prints what went. One ledger row as the local operator."""
    import json
    import time

    import anyio

    from mlgate.compose import build_runtime
    from mlgate.jobs.gc import collect

    if settings.state_url is None:
        settings.ensure_home()
    app = build_runtime(settings, transport="cli")
    rt, jobs = app.runtime, app.jobs
    t0 = time.perf_counter()
    error: Exception | None = None
    try:
        anyio.run(jobs.reap)  # a job whose worker died ends first: its versions are orphans then
        removed = collect(settings, jobs.store, older_than=older_than)
    except Exception as exc:
        error = exc
        raise
    finally:
        rt.record("jobs.gc", rt.local_caller(), {"older_than": older_than}, None, t0, error)
        anyio.run(rt.aclose)
    if as_json:
        print(json.dumps({"removed": removed}))
    else:
        print("\n".join(removed) if removed else "nothing to remove")
    return 0
