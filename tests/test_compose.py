"""The composition root: the server, the operator commands and the Celery worker get the same graph
from ``mlgate.compose.build_runtime`` — the runtime, its ``hf`` model source, its job service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mlgate.compose import App, build_runtime
from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from mlgate.supply.hub import HubResolver
from tests._support import mlgate_env, tool_payload

SRC = str(Path(__file__).resolve().parents[1] / "src")
UNPULLED = "hf:org/repo@0123456789abcdef0123456789abcdef01234567"
NOT_PULLED = "has not been pulled into this server's cache"  # the Hub source's answer (not "unknown source")


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, state_url=f"sqlite:///{tmp_path / 'state.db'}", warm_aliases=[])


def _wired(app_or_rt: App | Runtime, jobs: Any) -> None:
    """The graph build_runtime makes: the Hub source on the model store, the job service on this runtime."""
    rt = app_or_rt.runtime if isinstance(app_or_rt, App) else app_or_rt
    assert isinstance(rt.models.resolver_for("hf"), HubResolver)
    assert jobs.rt is rt


def test_build_runtime_wires_the_hub_source_and_the_job_service(tmp_path: Path) -> None:
    app = build_runtime(_settings(tmp_path), transport="cli")
    _wired(app, app.jobs)
    assert app.runtime.transport == "cli" and app.state is app.runtime.state
    other = build_runtime(_settings(tmp_path))
    assert other.jobs is not app.jobs  # no module-level service map: a second graph is a second graph


@pytest.mark.anyio
async def test_the_server_serves_the_graph_it_was_given(tmp_path: Path) -> None:
    app = build_runtime(_settings(tmp_path))
    server: Any = build_server(app)
    assert server.app is app and server.runtime is app.runtime
    async with Client(server) as c:
        out = await c.call_tool("ml_list_jobs", {})
        err, listed = tool_payload(out)
        assert not err and listed == {"jobs": []}
        rec, _ = await anyio.to_thread.run_sync(  # queued only: written to the graph's job store
            lambda: app.jobs.store.submit("ml_compile", {"subject": "local"}, {"model": "x@1"}, "d" * 64)
        )
        err, listed = tool_payload(await c.call_tool("ml_list_jobs", {}))
        assert not err and [j["job_id"] for j in listed["jobs"]] == [rec.id]  # the tools use app.jobs
        err, text = tool_payload(await c.call_tool("ml_model_info", {"model": UNPULLED}))
        assert err and NOT_PULLED in text
    await app.aclose()


def test_a_bare_runtime_handed_to_the_server_is_composed_by_the_same_root(tmp_path: Path) -> None:
    rt = Runtime(_settings(tmp_path))
    server: Any = build_server(rt)
    assert server.runtime is rt
    _wired(rt, server.app.jobs)


def test_the_cli_resolves_hub_references_through_the_graph(tmp_path: Path) -> None:
    """`mlgate models info hf:…`: the command's runtime has the Hub source (before the root, only the
    server's had it and the command answered "unknown model source 'hf'")."""
    env = mlgate_env(tmp_path)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "models", "info", UNPULLED],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert NOT_PULLED in done.stderr and "unknown model source" not in done.stderr, done.stderr[-2000:]


def test_the_celery_worker_runs_on_the_graph(tmp_path: Path) -> None:
    from mlgate.commands.worker import worker_host
    from mlgate.jobs.celery_worker import WorkerHost

    host = worker_host(_settings(tmp_path).model_copy(update={"jobs_broker": "redis://127.0.0.1:1/0"}))
    try:
        assert host.rt.transport == "worker"
        _wired(host.rt, host.service)
        with pytest.raises(ValueError, match="the runtime's own"):
            WorkerHost(host.rt, build_runtime(host.settings).jobs)  # a service of another graph
    finally:
        host.close()
