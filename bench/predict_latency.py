"""p50/p99 of a warm one-row `ml_predict` against the SDK's no-op tool, per transport, in one run.

    .venv/bin/python bench/predict_latency.py [--n 400] [--model demo-regressor@1]

In process (SDK in-memory client), over stdio (spawned servers) and over streamable HTTP
(uvicorn on 127.0.0.1: stateless JSON, and sessions with event-stream answers, the default),
each beside the no-op tool on the same transport in the same mode, plus the bare model call.
Prints p50, p99 and both ratios; the machine is noisy, so compare within one run.
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
from typing import Any, cast

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local import free_port, wait_port

logging.disable(logging.INFO)

ROW = {
    "age": 0.04,
    "sex": 0.05,
    "bmi": 0.06,
    "bp": 0.02,
    "s1": -0.04,
    "s2": -0.03,
    "s3": -0.04,
    "s4": 0.0,
    "s5": 0.02,
    "s6": -0.02,
}
HERE = Path(__file__).resolve().parent


def wait_ready(port: int, timeout: float = 600.0) -> None:
    """Until mlgate's ``/readyz`` answers 200: its warm-up is done (and the heap settled)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                if r.status == 200:
                    time.sleep(0.5)
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"mlgate on {port} not ready after {timeout:g} s")


def pct(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.99))]


async def paired(
    noop: Any, noop_args: dict[str, Any], ours: Any, args: dict[str, Any], n: int, warm_s: float = 0.0
) -> tuple[list[float], list[float]]:
    """The no-op and ``ml_predict``, in alternating blocks of 50 (drift in the load falls on both);
    ``warm_s``: keep calling ``ml_predict`` that long first (the server's own warm-up runs meanwhile)."""
    until = time.monotonic() + warm_s
    while True:
        r = await ours.call_tool("ml_predict", args)
        assert not r.is_error, r.content
        if time.monotonic() >= until:
            break
    for _ in range(30):
        await noop.call_tool("noop", noop_args)
        await ours.call_tool("ml_predict", args)
    base: list[float] = []
    out: list[float] = []
    while len(out) < n:
        for client, tool, a, into in ((noop, "noop", noop_args, base), (ours, "ml_predict", args, out)):
            for _ in range(min(50, n - len(into))):
                t0 = time.perf_counter()
                await client.call_tool(tool, a)
                into.append((time.perf_counter() - t0) * 1000)
    return base, out


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--model", default="demo-regressor@1")
    p.add_argument("--warm-s", type=float, default=20.0, help="stdio: calls before measuring (its warm-up)")
    a = p.parse_args()
    from mcp import Client, StdioServerParameters

    from mlgate.config import Settings
    from mlgate.demo import seed_demo
    from mlgate.server.app import build_server
    from mlgate.serving.runtime import Runtime

    home = Path(os.environ.get("MLGATE_HOME") or tempfile.mkdtemp(prefix="mlgate-bench-"))
    env = dict(os.environ, MLGATE_HOME=str(home))
    settings = Settings(home=home)
    seed_demo(settings, echo=lambda _m: None)
    args = {"model": a.model, "features": [ROW]}
    noop_args = {"model": a.model, "features": [ROW]}
    rows: list[tuple[str, list[float], list[float]]] = []

    # bare model call
    rt = Runtime(settings)
    loaded, _ = await rt.models.acquire(a.model, "predictor")
    import numpy as np

    x = np.array([[ROW[f.name] for f in loaded.info.features]])
    bare = []
    for _ in range(a.n):
        t0 = time.perf_counter()
        cast(Any, loaded.impl).predict(x)
        bare.append((time.perf_counter() - t0) * 1000)

    sys.path.insert(0, str(HERE))
    from noop_server import server as noop

    async with Client(build_server(Runtime(settings))) as c, Client(noop) as n:
        rows.append(("in process", *await paired(n, noop_args, c, args, a.n)))

    mlgate_stdio = StdioServerParameters(command=sys.executable, args=["-m", "mlgate", "serve"], env=env)
    noop_stdio = StdioServerParameters(
        command=sys.executable, args=[str(HERE / "noop_server.py"), "stdio"], env=env
    )
    async with Client(mlgate_stdio) as c, Client(noop_stdio) as n:
        rows.append(("stdio", *await paired(n, noop_args, c, args, a.n, a.warm_s)))

    for mode, flags in (("stateless", ["--stateless"]), ("sessions", [])):
        rows.append(await _http(mode, flags, env, noop_args, args, a.n))
    await rt.aclose()

    b50, b99 = pct(bare)
    print(f"\nwarm one-row ml_predict on {a.model}, n={a.n} per cell (ms)\n")
    print("| transport | no-op p50 | no-op p99 | ml_predict p50 | ml_predict p99 | p50 ratio | p99 ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, base, ours in rows:
        n50, n99 = pct(base)
        o50, o99 = pct(ours)
        print(
            f"| {name} | {n50:.3f} | {n99:.3f} | {o50:.3f} | {o99:.3f} | {o50 / n50:.2f}× | {o99 / n99:.2f}× |"
        )
    print(f"| bare model call | | | {b50:.4f} | {b99:.4f} | | |")


async def _http(
    mode: str, flags: list[str], env: dict[str, str], noop_args: dict[str, Any], args: dict[str, Any], n: int
) -> tuple[str, list[float], list[float]]:
    """mlgate and the no-op, each served over streamable HTTP in the same mode, alternated by block."""
    from mcp import Client

    pm, pn = free_port(), free_port()
    noop_flags = ["--sessions"] if mode == "sessions" else []
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlgate", "serve", "--http", *flags, "--port", str(pm)],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, str(HERE / "noop_server.py"), "http", str(pn), *noop_flags],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_port(pm)
        wait_port(pn)
        wait_ready(pm)
        async with Client(f"http://127.0.0.1:{pm}/mcp/ml") as c, Client(f"http://127.0.0.1:{pn}/mcp") as nc:
            return (f"HTTP ({mode})", *await paired(nc, noop_args, c, args, n))
    finally:
        for proc in procs:
            proc.terminate()


if __name__ == "__main__":
    anyio.run(main)
