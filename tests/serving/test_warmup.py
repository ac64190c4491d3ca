"""Warm starts: the aliased versions loaded in the background, readiness apart from liveness.

In process: a real uvicorn on 127.0.0.1 in the test's event loop (the model cache's), the
warm-up held inside its load by a resolver that waits for the test (MLflow's own resolver
with a latch), so "not ready before it finished" is observed, not timed. End to end: a spawned
``mlgate serve --http`` on the demo registry warms ``production`` by default.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
import uvicorn
from mcp import Client

from mlgate.config import Settings
from mlgate.domain import LoadedModel, VersionInfo
from mlgate.models.ref import ModelRef
from mlgate.models.resolvers import MlflowResolver
from mlgate.server.app import build_server
from mlgate.server.http import build_http_app
from mlgate.serving.runtime import Runtime
from mlgate.serving.warmup import Warmup
from tests._support import (
    DIABETES_ROW,
    IRIS_ROW,
    await_until,
    free_port,
    mlgate_env,
    spawn_server,
    tool_payload,
    wait_http,
    wait_until,
)

pytestmark = pytest.mark.anyio
ROW = {"a": 2.0, "b": 3.0}


class GatedResolver(MlflowResolver):
    """MLflow's resolver; ``load`` waits until the test sets ``release``. Counts loads and alias lookups."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.entered, self.release = threading.Event(), threading.Event()
        self.loads: list[str] = []
        self.alias_lookups = 0

    def resolve(self, ref: ModelRef) -> VersionInfo:
        self.alias_lookups += ref.version is None
        return super().resolve(ref)

    def load(self, info: VersionInfo) -> LoadedModel:
        self.loads.append(f"{info.name}@{info.version}")
        self.entered.set()
        assert self.release.wait(60), "the test never released the load"
        return super().load(info)


@pytest.fixture(scope="module")
def warm_model(demo_home: Path) -> str:
    """A model of its own under the alias ``warmtest`` (no other model has it)."""
    from sklearn.linear_model import LinearRegression

    from mlgate.models.registrar import Registrar

    name = f"warm-{uuid.uuid4().hex[:8]}"
    reg = Registrar(Settings(home=demo_home))
    x = np.random.default_rng(0).normal(size=(30, 2))
    reg.register_sklearn(
        name, LinearRegression().fit(x, x[:, 0]), x, ["a", "b"], {"r2": 1.0}, alias="warmtest"
    )
    return name


class InLoopServer(uvicorn.Server):
    """uvicorn in the caller's event loop; signals stay with pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[str]:
    server = InLoopServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        await await_until(lambda: server.started, 30, what="uvicorn listens")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


async def test_not_ready_while_warming_then_the_first_call_loads_nothing(
    warm_model: str, demo_home: Path, tmp_path: Path
) -> None:
    settings = Settings(home=demo_home, state_url=f"sqlite:///{tmp_path / 'state.db'}")
    resolver = GatedResolver(settings)
    rt = Runtime(settings, resolver, transport="http")
    warmup = Warmup(rt, ["warmtest"])
    port = free_port()
    app = build_http_app(settings, build_server(rt), rt, port=port, warmup=warmup)
    try:
        async with serving(app, port) as base, anyio.create_task_group() as tg, httpx.AsyncClient() as http:
            assert (await http.get(base + "/readyz")).json()["warmup"]["state"] == "pending"
            tg.start_soon(warmup.run)
            await anyio.to_thread.run_sync(resolver.entered.wait)  # the warm-up is inside the load
            ready = await http.get(base + "/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "warming", ready.text
            live = await http.get(base + "/healthz")
            assert live.status_code == 200 and live.json()["ready"] is False  # live while warming
            assert not rt.models.cache.has((warm_model, 1))

            resolver.release.set()
            await warmup.wait()
            ready = await http.get(base + "/readyz")
            assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text
            assert ready.json()["warmup"]["loaded"] == 1  # public: a count, no model names
            assert warmup.status()["loaded"] == [f"{warm_model}@warmtest → version 1"]
            assert (await http.get(base + "/healthz")).json()["ready"] is True
            assert rt.models.cache.has((warm_model, 1))
            assert resolver.loads == [f"{warm_model}@1"]

            before, lookups = rt.models.cache.stats(), resolver.alias_lookups
            async with Client(base + "/mcp/ml") as client:
                err, out = tool_payload(
                    await client.call_tool(
                        "ml_predict", {"model": f"{warm_model}@warmtest", "features": [ROW]}
                    )
                )
            assert not err, out
            assert out["model"]["version"] == 1 and abs(out["predictions"][0] - 2.0) < 1e-6
            after = rt.models.cache.stats()
            assert (after.loads, after.misses) == (before.loads, before.misses)  # no load, no wait for one
            assert after.hits > before.hits
            assert resolver.loads == [f"{warm_model}@1"] and resolver.alias_lookups == lookups  # alias kept
    finally:
        resolver.release.set()
        await rt.aclose()


async def test_a_version_beyond_the_cache_budget_is_not_loaded_but_its_library_is_imported(
    demo_home: Path, tmp_path: Path
) -> None:
    from sklearn.ensemble import RandomForestRegressor

    from mlgate.models.registrar import Registrar

    name = f"warmbig-{uuid.uuid4().hex[:8]}"
    x = np.random.default_rng(1).normal(size=(2000, 2))
    est = RandomForestRegressor(n_estimators=20, random_state=0).fit(x, x[:, 0] + np.sin(x[:, 1]))
    Registrar(Settings(home=demo_home)).register_sklearn(
        name, est, x, ["a", "b"], {"r2": 1.0}, alias="warmbig"
    )
    settings = Settings(home=demo_home, state_url=f"sqlite:///{tmp_path / 'state.db'}", cache_mb=1)
    rt = Runtime(settings)
    warmup = Warmup(rt, ["warmbig"])
    try:
        await warmup.run()
        status = warmup.status()
        assert warmup.ready and status["loaded"] == [] and status["errors"] == []
        assert len(status["skipped"]) == 1 and status["skipped"][0].startswith(f"{name}@warmbig → version 1")
        assert status["imported"] == ["sklearn"] and "sklearn" in sys.modules
        assert rt.models.cache.stats().entries == 0  # nothing loaded, nothing evicted
    finally:
        await rt.aclose()


async def test_no_warm_aliases_is_ready_at_once(demo_home: Path, tmp_path: Path) -> None:
    rt = Runtime(Settings(home=demo_home, state_url=f"sqlite:///{tmp_path / 'state.db'}", warm_aliases=[]))
    warmup = Warmup(rt)
    assert warmup.ready and warmup.status()["state"] == "ready"
    await warmup.wait()
    await warmup.run()
    assert rt.models.cache.stats().entries == 0


def test_mlgate_serve_warms_production_and_answers_while_warming(demo_home: Path, tmp_path: Path) -> None:
    """The real command: /healthz answers at once; once /readyz says ready the demo model is cached and
    the first ml_predict on demo-regressor@production loads nothing."""
    port = free_port()
    env = mlgate_env(demo_home, MLGATE_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    env.pop("MLGATE_WARM_ALIASES")  # the default: production
    proc = spawn_server(["--http", "--host", "127.0.0.1", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc)
        anyio.run(_call_while_warming, base)
        ready = _wait_ready(base, proc)
        assert ready["ready"] is True and ready["warmup"]["loaded"] >= 5, (
            ready
        )  # the demo's production models
        anyio.run(_first_call_loads_nothing, base)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        assert proc.poll() is None, "the server exited"
        try:
            live = httpx.get(base + "/healthz", timeout=5)
            assert live.status_code == 200, live.text  # live all along, warming or not
            ready = httpx.get(base + "/readyz", timeout=5)
        except httpx.TransportError:
            return None  # not listening yet
        if ready.status_code == 200:
            return dict(ready.json())
        assert ready.status_code == 503 and ready.json()["status"] == "warming", ready.text
        return None

    found: dict[str, Any] = wait_until(ready, 180, every=0.05, what="the server is ready")
    return found


async def _call_while_warming(base: str) -> None:
    """A call as soon as the server listens (the warm-up is importing and loading meanwhile) is answered."""
    async with Client(base + "/mcp/ml") as client:
        err, out = tool_payload(
            await client.call_tool("ml_classify", {"model": "demo-classifier@1", "features": [IRIS_ROW]})
        )
    assert not err and out["model"]["version"] == 1, out


async def _first_call_loads_nothing(base: str) -> None:
    async with Client(base + "/mcp/ml") as client:
        _, status = tool_payload(await client.call_tool("ml_serving_status", {}))
        cached = {(m["name"], m["version"]) for m in status["models"]}
        assert ("demo-regressor", 1) in cached, status["models"]
        err, out = tool_payload(
            await client.call_tool(
                "ml_predict", {"model": "demo-regressor@production", "features": [DIABETES_ROW]}
            )
        )
        assert not err and out["model"]["version"] == 1, out
        _, after = tool_payload(await client.call_tool("ml_serving_status", {}))
    assert after["cache"]["loads"] == status["cache"]["loads"]
    assert after["cache"]["misses"] == status["cache"]["misses"]
