"""32 concurrent agents over HTTP against a RandomForest and its ONNX twin, batching on vs off;
then the halt latency under that load.

    .venv/bin/python bench/throughput.py [--agents 32] [--seconds 8]

Each agent is an MCP client with its own session calling ml_predict with one row in a loop.
Prints calls/s, p50/p99 and errors per (model, batching) cell, and how long after `ml_halt`
returned the last successful prediction finished (it must be ~0).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local import free_port, wait_port

logging.disable(logging.INFO)


def register(home: Path) -> tuple[str, str, list[str], np.ndarray]:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    from mlgate.config import Settings
    from mlgate.models.registrar import Registrar

    data = load_diabetes()
    x = np.asarray(data.data, dtype=np.float64)
    names = [str(n) for n in data.feature_names]
    est = RandomForestRegressor(n_estimators=100, random_state=0).fit(x, data.target)
    reg = Registrar(Settings(home=home))
    rf = reg.register_sklearn("bench-forest", est, x, names, {"r2": 0.0})
    import yaml

    onx = to_onnx(est, x[:1].astype(np.float32), target_opset=17)
    folder = home / "forest-onnx"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    meta = {"mlgate": {"features": [{"name": n, "type": "double"} for n in names]}}
    (folder / "MLmodel").write_text(
        yaml.safe_dump({"flavors": {"onnx": {"data": "model.onnx"}}, "metadata": meta})
    )
    ox = reg.register_dir("bench-forest-onnx", folder)
    return f"bench-forest@{rf.version}", f"bench-forest-onnx@{ox.version}", names, x


async def load(
    url: str,
    model: str,
    rows: list[dict[str, float]],
    agents: int,
    seconds: float,
    halt_after: float | None = None,
) -> dict[str, Any]:
    from mcp import Client

    lat: list[float] = []
    done: list[tuple[float, bool]] = []
    errors = 0
    stop = anyio.Event()
    halted: list[float] = []

    async def agent(i: int) -> None:
        nonlocal errors
        async with Client(url) as c:
            k = i
            while not stop.is_set():
                t0 = time.perf_counter()
                r = await c.call_tool("ml_predict", {"model": model, "features": [rows[k % len(rows)]]})
                t1 = time.perf_counter()
                k += 1
                done.append((time.monotonic(), not r.is_error))
                if r.is_error:
                    errors += 1
                else:
                    lat.append((t1 - t0) * 1000)

    async with Client(url) as warm:  # load the model (and decide batching) before the clock starts
        await warm.call_tool("ml_predict", {"model": model, "features": [rows[0]]})
    async with anyio.create_task_group() as tg:
        for i in range(agents):
            tg.start_soon(agent, i)
        await anyio.sleep(1.0)  # sessions up
        lat.clear()
        done.clear()
        errors = 0
        t0 = time.monotonic()
        if halt_after is not None:
            await anyio.sleep(halt_after)
            async with Client(url) as op:
                await op.call_tool("ml_halt", {"reason": "bench halt"})
            halted.append(time.monotonic())
            await anyio.sleep(1.0)
        else:
            await anyio.sleep(seconds)
        stop.set()
        elapsed = time.monotonic() - t0
    out: dict[str, Any] = {"calls_s": len(lat) / elapsed, "errors": errors}
    if lat:
        s = sorted(lat)
        out |= {"p50": statistics.median(s), "p99": s[int(len(s) * 0.99)]}
    if halted:
        late = [t - halted[0] for t, ok in done if ok and t > halted[0]]
        out["last_success_after_halt_ms"] = max(late) * 1000 if late else 0.0
        out["refused_after_halt"] = sum(1 for t, ok in done if not ok and t > halted[0])
    return out


def serve(home: Path, batching: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        MLGATE_HOME=str(home),
        MLGATE_BATCHING=batching,
        MLGATE_STATE_URL=f"sqlite:///{home}/state-{batching}-{port}.db",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "serve", "--http", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}/mcp/ml"


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=32)
    p.add_argument("--seconds", type=float, default=8.0)
    a = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mlgate-tput-"))
    forest, onnx, names, x = register(home)
    rows = [dict(zip(names, map(float, r), strict=True)) for r in x[:64]]
    table = []
    for batching in ("off", "auto"):
        proc, url = serve(home, batching)
        try:
            for model in (forest, onnx):
                r = await load(url, model, rows, a.agents, a.seconds)
                table.append((model.split("@")[0], batching, r))
        finally:
            proc.terminate()
            proc.wait(20)
    proc, url = serve(home, "auto")
    try:
        halt = await load(url, forest, rows, a.agents, a.seconds, halt_after=2.0)
    finally:
        proc.terminate()
        proc.wait(20)
    print(f"\n{a.agents} agents over streamable HTTP, one-row ml_predict, {a.seconds:g} s per cell\n")
    print("| model | batching | calls/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for model, batching, r in table:
        print(
            f"| {model} | {batching} | {r['calls_s']:.0f} | {r.get('p50', 0):.1f} | {r.get('p99', 0):.1f} |"
            f" {r['errors']} |"
        )
    print(
        f"\nhalt under load: last success finished {halt['last_success_after_halt_ms']:.1f} ms after ml_halt "
        f"returned; {halt['refused_after_halt']} calls refused after it"
    )


if __name__ == "__main__":
    anyio.run(main)
