"""The composition root: the one place a process's object graph is built.

Every entry point builds its graph here — the server (``server/run.py``, ``server/app.py``), the
operator commands (``commands/*.py``) and the Celery worker (``commands/worker.py`` hands the graph
to ``jobs/celery_worker.py``) — so each gets the same objects wired the same way:

- the ``Runtime`` (state database, ledger, kill switch, executor, metrics, model store);
- the ``hf`` model source on its model store (pulled Hub snapshots: ``hf:org/repo@commit``);
- the ``JobService`` (submit, wait, reap, cancel; the embedded or the Celery workers);
- the state database skill runs are recorded in, which is the runtime's own (``App.state``).

Nothing here is kept at module level: a second ``build_runtime`` is a second graph. The MCP server's
lifespan yields the ``App``, and tool functions reach its parts through ``tools/context.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.config import Settings
from mlgate.jobs.service import JobService
from mlgate.models.resolvers import Resolver
from mlgate.serving.runtime import Runtime
from mlgate.state.db import StateDB
from mlgate.supply.hub import HubResolver


@dataclass(frozen=True, eq=False)
class App:
    """One process's graph: the runtime and the services built around it."""

    runtime: Runtime
    jobs: JobService

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def state(self) -> StateDB:
        """The state database: halts, ledger, jobs and skill runs (opened on first use)."""
        return self.runtime.state

    async def aclose(self) -> None:
        await self.runtime.aclose()


def build_runtime(settings: Settings, resolver: Resolver | None = None, *, transport: str = "memory") -> App:
    """The graph for ``settings``: a runtime on ``transport`` (``stdio``, ``http``, ``cli``, ``worker``,
    ``memory`` for tests) with its model sources and services. ``resolver`` replaces the MLflow one
    (tests)."""
    return compose(Runtime(settings, resolver, transport=transport))


def compose(runtime: Runtime) -> App:
    """The services around a runtime already made (``build_runtime``'s second half; ``build_server``
    composes a bare ``Runtime`` a test hands it). Compose a runtime once: each call makes a new graph."""
    settings = runtime.settings
    runtime.models.add_source("hf", lambda: HubResolver(settings))  # pulled snapshots: hf:org/repo@commit
    return App(runtime=runtime, jobs=JobService(runtime))
