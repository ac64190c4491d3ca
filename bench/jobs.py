"""Inference p50/p99 on a replica while four compile jobs run: in-process pool vs Celery workers.

    .venv/bin/python bench/jobs.py [--n 300] [--workers 2]

One `mlgate serve --http --no-auth` replica on 127.0.0.1 per mode, a fresh MLGATE_HOME with a small
regressor (what ml_predict calls) and a wide MLP (what the compile jobs convert and parity-check).
Modes: idle (no jobs), in-process (MLGATE_JOBS_BROKER unset), workers (a throwaway redis-server and
`mlgate worker` processes). Needs redis-server on PATH and celery for the last mode. The machine is
noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._support import free_port, mlgate_env, spawn_server, wait_http  # noqa: E402

logging.disable(logging.INFO)
FEATURES = ["a", "b", "c", "d"]
ROW = {"a": 0.1, "b": -0.2, "c": 0.3, "d": 0.0}


def register(home: Path) -> None:
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPRegressor

    from mlgate.config import Settings
    from mlgate.models.registrar import Registrar

    reg = Registrar(Settings(home=home))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4))
    y = x @ np.array([3.0, -2.0, 1.0, 0.5])
    reg.register_sklearn("bench-ridge", Ridge().fit(x, y), x, FEATURES, {"r2": 1.0})
    wide = MLPRegressor(hidden_layer_sizes=(1024, 1024), max_iter=3, random_state=0).fit(x, y)
    reg.register_sklearn("bench-mlp", wide, x, FEATURES, {"r2": 0.5})


def pct(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1000, s[min(len(s) - 1, int(len(s) * 0.99))] * 1000


async def measure(url: str, n: int, jobs: int) -> tuple[float, float, float]:
    from mcp import Client

    async with Client(url) as c:
        for _ in range(20):  # warm
            await c.call_tool("ml_predict", {"model": "bench-ridge@1", "features": [ROW]})
        ids = []
        for i in range(jobs):  # distinct tolerances: four jobs, not one deduplicated
            out = await c.call_tool(
                "ml_compile", {"model": "bench-mlp@1", "target": "int8", "tolerance": 0.05 - i * 0.001}
            )
            ids.append(out.structured_content["job"]["job_id"])
        samples = []
        t0 = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            await c.call_tool("ml_predict", {"model": "bench-ridge@1", "features": [ROW]})
            samples.append(time.perf_counter() - t)
        for job_id in ids:  # let them finish before the next mode
            while (await c.call_tool("ml_job", {"job_id": job_id})).structured_content["job"]["status"] in (
                "queued",
                "running",
            ):
                await anyio.sleep(0.2)
        p50, p99 = pct(samples)
        return p50, p99, time.perf_counter() - t0


def run_mode(home: Path, n: int, jobs: int, env_extra: dict[str, str]) -> tuple[float, float, float]:
    port = free_port()
    env = mlgate_env(home, MLGATE_JOB_WAIT_S="0", **env_extra)
    proc = spawn_server(
        ["--http", "--host", "127.0.0.1", "--port", str(port), "--stateless", "--no-auth"], env
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        return anyio.run(measure, f"http://127.0.0.1:{port}/mcp/ml", n, jobs)
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    register(home)
    rows = [
        ("idle", run_mode(home, args.n, 0, {})),
        ("4 compiles in-process", run_mode(home, args.n, 4, {"MLGATE_JOB_WORKERS": "4"})),
    ]
    from tests.jobs.redis import Redis
    from tests.scaleout.services import spawn, stop

    redis = Redis()
    env = mlgate_env(home, MLGATE_JOBS_BROKER=redis.url)
    workers: list[subprocess.Popen[bytes]] = [
        spawn([sys.executable, "-m", "mlgate", "worker", "--concurrency", "2"], home / f"w{i}.log", env=env)
        for i in range(args.workers)
    ]
    try:
        time.sleep(8)  # workers connect
        rows.append(
            (
                f"4 compiles on {args.workers} workers",
                run_mode(home, args.n, 4, {"MLGATE_JOBS_BROKER": redis.url}),
            )
        )
    finally:
        for w in workers:
            stop(w)
        redis.stop()
    print(
        f"{'mode':32} {'p50 ms':>8} {'p99 ms':>8} {'wall s':>7}   (wall: timed calls + jobs finishing; ml_predict, {args.n} calls, HTTP)"
    )
    for name, (p50, p99, wall) in rows:
        print(f"{name:32} {p50:8.2f} {p99:8.2f} {wall:7.1f}")


if __name__ == "__main__":
    main()
