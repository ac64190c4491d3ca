"""Jobs on Celery workers: a real redis-server, two `mlgate worker` processes and two `mlgate serve --http`
replicas on 127.0.0.1, sharing one SQLite state database and one MLflow registry (one MLGATE_HOME).

Submitted through replica A, fetched through replica B; a worker SIGKILLed mid-compile leaves the job
`interrupted` within a lease and no new version; a running retrain cancelled through B registers nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from tests._support import (
    await_until,
    free_port,
    mlgate_env,
    spawn_server,
    tool_payload,
    wait_http,
    wait_until,
)
from tests._support.jobs import versions
from tests._support.lifecycle import FEATURES, make_data, records
from tests.scaleout.services import SkipService, spawn, stop

pytestmark = pytest.mark.anyio
LEASE_S = 5.0  # renewed every ~1.7 s: tolerant of a loaded 2-core CI machine, still quick to reap


@dataclass
class Cluster:
    home: Path
    settings: Settings
    a: str
    b: str
    workers: list[subprocess.Popen[bytes]]
    batch: list[dict[str, Any]]


def _register(settings: Settings) -> list[dict[str, Any]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPRegressor

    from mlgate.models.registrar import Registrar

    reg = Registrar(settings)
    x, y = load_iris(return_X_y=True)
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    est = LogisticRegression(max_iter=500).fit(x, y)
    reg.register_sklearn("jq-iris", est, x, names, {"accuracy": float(est.score(x, y))}, alias="production")
    xm, ym = make_data(300, seed=0)
    big = MLPRegressor(hidden_layer_sizes=(512, 512), max_iter=5, random_state=0).fit(xm, ym)
    reg.register_sklearn("jq-mlp", big, xm, FEATURES, {"r2": 0.5}, alias="production")
    slow = MLPRegressor(
        hidden_layer_sizes=(256, 256), max_iter=40, tol=0.0, n_iter_no_change=1000, random_state=0
    ).fit(xm[:100], ym[:100])
    reg.register_sklearn("jq-slow", slow, xm, FEATURES, {"r2": 0.1}, alias="production")
    xb, yb = make_data(4000, seed=3, noise=0.5)
    return records(xb, yb)


def _wait_log(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    def logged() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {path.read_text(errors='replace')[-2000:]}")
        return text in path.read_text(errors="replace")

    wait_until(
        logged, timeout, every=0.1, what=lambda: f"worker ready: {path.read_text(errors='replace')[-2000:]}"
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pytest.importorskip("celery", reason="pip install -e '.[jobs]' (celery[redis])")
    from tests.jobs.redis import Redis

    try:
        redis = Redis()
    except SkipService as exc:
        pytest.skip(str(exc))
    home = tmp_path_factory.mktemp("jobs-celery")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        settings = Settings(home=home)
        settings.ensure_home()
        batch = _register(settings)
        env = mlgate_env(
            home,
            MLGATE_JOBS_BROKER=redis.url,
            MLGATE_JOB_LEASE_S=str(LEASE_S),
            MLGATE_JOB_WAIT_S="0",
            TMPDIR=str(home),
        )
        workers = []
        for i in range(2):
            log = home / f"worker-{i}.log"
            workers.append(
                spawn([sys.executable, "-m", "mlgate", "worker", "--concurrency", "1"], log, env=env)
            )
        procs += workers
        ports = [free_port(), free_port()]
        servers = [
            spawn_server(["--http", "--host", "127.0.0.1", "--port", str(p), "--stateless", "--no-auth"], env)
            for p in ports
        ]
        procs += servers
        for p, proc in zip(ports, servers, strict=True):
            wait_http(f"http://127.0.0.1:{p}/healthz", proc)
        for i, w in enumerate(workers):
            _wait_log(home / f"worker-{i}.log", " ready.", w)
        a, b = (f"http://127.0.0.1:{p}/mcp/ml" for p in ports)
        yield Cluster(home, settings, a, b, workers, batch)
    finally:
        for proc in procs:
            stop(proc)
        redis.stop()


async def _job(url: str, job_id: str, until: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
    seen: list[Any] = []
    async with Client(url) as c:

        async def ended() -> dict[str, Any] | None:
            err, out = tool_payload(await c.call_tool("ml_job", {"job_id": job_id}))
            assert not err, out
            seen[:] = [out]
            return dict(out["job"]) if out["job"]["status"] in until else None

        job: dict[str, Any] = await await_until(
            ended, timeout, every=0.05, what=lambda: f"job {until}: {seen}"
        )
        return job


async def _submit(url: str, tool: str, args: dict[str, Any]) -> str:
    async with Client(url) as c:
        err, out = tool_payload(await c.call_tool(tool, args))
    assert not err, out
    assert out["job"]["status"] in ("queued", "running"), out  # MLGATE_JOB_WAIT_S=0: a handle
    return str(out["job"]["job_id"])


async def test_a_compile_submitted_through_a_is_fetched_through_b(cluster: Cluster) -> None:
    job_id = await _submit(cluster.a, "ml_compile", {"model": "jq-iris@1", "target": "onnx"})
    done = await _job(cluster.b, job_id, ("succeeded", "failed", "cancelled", "interrupted"))
    assert done["status"] == "succeeded", done
    assert done["worker"].startswith("celery:") and done["progress"]["done"] == 3
    assert done["result"]["registered"] == "jq-iris@2"
    async with Client(cluster.b) as c:  # the new version serves on B
        err, out = tool_payload(
            await c.call_tool(
                "ml_classify",
                {
                    "model": "jq-iris@2",
                    "features": [
                        {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
                    ],
                },
            )
        )
    assert not err and out["model"]["version"] == 2, out


async def test_a_worker_killed_mid_compile_leaves_the_job_interrupted_and_no_version(
    cluster: Cluster,
) -> None:
    before = versions(cluster.settings, "jq-mlp")
    artifacts = sorted((cluster.home / "artifacts").rglob("*"))
    job_id = await _submit(cluster.a, "ml_compile", {"model": "jq-mlp@1", "target": "onnx"})
    running = await _job(cluster.b, job_id, ("running", "succeeded", "failed"))
    assert running["status"] == "running" and running["progress"]["done"] < 2, running
    pid = int(running["worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    done = await _job(cluster.b, job_id, ("interrupted", "succeeded", "failed"), timeout=LEASE_S + 10)
    assert done["status"] == "interrupted", done
    assert time.monotonic() - t0 <= LEASE_S + 4.0
    assert versions(cluster.settings, "jq-mlp") == before
    assert sorted((cluster.home / "artifacts").rglob("*")) == artifacts  # no stray artifact


async def test_cancelling_a_running_retrain_through_b_registers_nothing(cluster: Cluster) -> None:
    before = versions(cluster.settings, "jq-slow")
    args = {"model": "jq-slow@production", "data": cluster.batch, "target": "y"}
    job_id = await _submit(cluster.a, "ml_retrain", args)
    await _job(cluster.b, job_id, ("running",))
    async with Client(cluster.b) as c:
        err, out = tool_payload(await c.call_tool("ml_job_cancel", {"job_id": job_id}))
    assert not err, out
    done = await _job(cluster.b, job_id, ("cancelled", "succeeded", "failed", "interrupted"), timeout=30)
    assert done["status"] == "cancelled", done
    assert versions(cluster.settings, "jq-slow") == before
