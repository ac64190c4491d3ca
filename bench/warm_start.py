"""Warm starts and kept alias answers, over HTTP, in one run.

    .venv/bin/python bench/warm_start.py [--n 300] [--model demo-regressor]

Three `mlgate serve --http` processes on the demo registry, one after the other:

* cold — MLGATE_WARM_ALIASES= (no warm-up) and MLGATE_ALIAS_TTL_MS=0 (every alias call asks the
  registry: mlgate before this change): time from the spawn to the first answered
  `ml_predict name@production`, then alias vs pinned warm p50;
* warm — the defaults (warm `production`, alias answers kept): spawn → `/readyz` 200, then the
  first `ml_predict` on the alias, compared with the same call's warm p50, and alias vs pinned p50.

Prints ratios; the machine is noisy, so compare within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local import free_port, wait_port

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


def spawn(home: Path, port: int, **env: str) -> tuple[subprocess.Popen[bytes], float]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
    full.update(MLGATE_HOME=str(home), **env)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
        env=full,
        stderr=subprocess.DEVNULL,
    )
    return proc, t0


def wait_ready(port: int, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"not ready after {timeout:g} s")


async def call_ms(client: Any, model: str) -> float:
    t0 = time.perf_counter()
    r = await client.call_tool("ml_predict", {"model": model, "features": [ROW]})
    ms = (time.perf_counter() - t0) * 1000
    assert not r.is_error, r.content
    return ms


async def p50s(client: Any, models: list[str], n: int) -> dict[str, float]:
    """Warm p50 per model, calls interleaved so drift on the machine hits each alike."""
    for _ in range(20):
        for m in models:
            await call_ms(client, m)
    out: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(n):
        for m in models:
            out[m].append(await call_ms(client, m))
    return {m: statistics.median(v) for m, v in out.items()}


def server_times(state_url: str) -> tuple[float, float]:
    """What the server itself spent (its ledger rows, without the client's side) on its first ml_predict,
    and the median of the others."""
    from mlgate.state.db import StateDB

    db = StateDB(state_url)
    try:
        ms = [r.duration_ms for r in db.tail(100_000) if r.tool == "ml_predict"]
    finally:
        db.close()
    return ms[0], statistics.median(ms[1:])


async def run(port: int, t0: float, name: str, n: int, ready: bool) -> dict[str, Any]:
    from mcp import Client

    alias, pinned = f"{name}@production", f"{name}@1"
    got: dict[str, Any] = {}
    if ready:
        warm = wait_ready(port)
        got["ready_s"] = time.perf_counter() - t0
        got["warmup_s"] = float(warm["warmup"]["seconds"] or 0.0)
    else:
        wait_port(port, timeout=300)
        got["listen_s"] = time.perf_counter() - t0
    async with Client(f"http://127.0.0.1:{port}/mcp/ml") as client:
        got["first_ms"] = await call_ms(client, alias)
        got["answer_s"] = time.perf_counter() - t0
        p = await p50s(client, [alias, pinned], n)
        status = await client.call_tool("ml_serving_status", {})
    got["alias_p50"], got["pinned_p50"] = p[alias], p[pinned]
    content = status.structured_content or {}
    got["batched"] = sorted(content.get("queues", {}))
    return got


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--model", default="demo-regressor")
    a = ap.parse_args()
    from mlgate.config import Settings
    from mlgate.demo import seed_demo

    home = Path(os.environ.get("MLGATE_HOME") or tempfile.mkdtemp(prefix="mlgate-bench-"))
    seed_demo(Settings(home=home), echo=lambda _m: None)
    results: dict[str, dict[str, Any]] = {}
    for label, env, ready in (
        ("cold (no warm-up, TTL 0)", {"MLGATE_WARM_ALIASES": "", "MLGATE_ALIAS_TTL_MS": "0"}, False),
        ("warm (defaults)", {}, True),
    ):
        port = free_port()
        state = f"sqlite:///{home / f'state-{port}.db'}"  # its own ledger: the server's first-call time
        proc, t0 = spawn(home, port, MLGATE_STATE_URL=state, **env)
        try:
            results[label] = await run(port, t0, a.model, a.n, ready)
        finally:
            proc.terminate()
            proc.wait(30)
        results[label]["server_first_ms"], results[label]["server_p50"] = server_times(state)

    cold, warm = results["cold (no warm-up, TTL 0)"], results["warm (defaults)"]
    print(f"\n`mlgate serve --http` on the demo registry, ml_predict {a.model}, n={a.n} per p50\n")
    print(
        "| server | listening / ready | first ml_predict on @production: client (server) | "
        "spawn → first answer |"
    )
    print("|---|---|---|---|")
    print(
        f"| cold | listening {cold['listen_s']:.2f} s | {cold['first_ms']:.1f} ms "
        f"({cold['server_first_ms']:.1f} ms) | {cold['answer_s']:.2f} s |"
    )
    print(
        f"| warm | ready {warm['ready_s']:.2f} s (warm-up {warm['warmup_s']:.2f} s) | "
        f"{warm['first_ms']:.1f} ms ({warm['server_first_ms']:.1f} ms) | {warm['answer_s']:.2f} s |"
    )
    print(
        f"\nfirst call / warm p50, in the server: warm {warm['server_first_ms'] / warm['server_p50']:.2f}×, "
        f"cold {cold['server_first_ms'] / cold['server_p50']:.0f}×; at the client (a new session's first call "
        f"also pays the client's own first-call costs): warm {warm['first_ms'] / warm['alias_p50']:.2f}×, "
        f"cold {cold['first_ms'] / cold['alias_p50']:.0f}×"
    )
    print("\n| server | @production p50 (ms) | @1 p50 (ms) | alias / pinned | server p50 | batched |")
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        ratio = r["alias_p50"] / r["pinned_p50"]
        batched = ", ".join(r["batched"]) or "none"
        print(
            f"| {label} | {r['alias_p50']:.2f} | {r['pinned_p50']:.2f} | {ratio:.2f}× | "
            f"{r['server_p50']:.2f} | {batched} |"
        )


if __name__ == "__main__":
    anyio.run(main)
