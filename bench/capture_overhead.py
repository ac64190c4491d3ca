"""Overhead of prediction capture on a warm one-row `ml_predict` (SDK in-memory client), in one run.

    PYTHONPATH=src .venv/bin/python bench/capture_overhead.py [--n 2000] [--rounds 10]

Three runtimes on the same demo registry and state database: capture off, capture on
(`MLGATE_CAPTURE=demo-*`), capture on with inputs (`MLGATE_CAPTURE_INPUTS=1`). Calls are
interleaved in rounds (off, on, on+inputs, …) so machine noise hits all three alike; prints
p50 and mean per variant and the ratio to "off". Target: capture adds < 5 % to the call.
At the end it checks that every id handed out was committed.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_latency import ROW

logging.disable(logging.INFO)


async def block(client: Any, args: dict[str, Any], n: int, out: list[float], ids: list[str]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.call_tool("ml_predict", args)
        out.append((time.perf_counter() - t0) * 1000)
        ids += (r.structured_content or {}).get("prediction_ids", [])


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=10)
    a = p.parse_args()
    from contextlib import AsyncExitStack

    from mcp import Client

    from mlgate.config import Settings
    from mlgate.demo import seed_demo
    from mlgate.server.app import build_server
    from mlgate.serving.runtime import Runtime

    home = Path(os.environ.get("MLGATE_HOME") or tempfile.mkdtemp(prefix="mlgate-bench-"))
    seed_demo(Settings(home=home), echo=lambda _m: None)
    variants = {
        "off": Settings(home=home),
        "capture": Settings(home=home, capture=["demo-*"]),
        "capture+inputs": Settings(home=home, capture=["demo-*"], capture_inputs=True),
    }
    args = {"model": "demo-regressor@1", "features": [ROW]}
    samples: dict[str, list[float]] = {k: [] for k in variants}
    ids: dict[str, list[str]] = {k: [] for k in variants}
    runtimes = {k: Runtime(s) for k, s in variants.items()}
    async with AsyncExitStack() as stack:
        clients = {k: await stack.enter_async_context(Client(build_server(rt))) for k, rt in runtimes.items()}
        for c in clients.values():  # warm: model loaded, state opened, writer started
            await block(c, args, 50, [], [])
        per = max(1, a.n // a.rounds)
        for _ in range(a.rounds):
            for k, c in clients.items():
                await block(c, args, per, samples[k], ids[k])
    base_p50, base_mean = statistics.median(samples["off"]), statistics.fmean(samples["off"])
    print(f"one-row ml_predict, in-memory MCP client, {a.rounds} rounds × {per} calls per variant")
    print(f"{'variant':16} {'p50 ms':>8} {'mean ms':>8} {'p50 ×off':>9} {'mean ×off':>10}")
    for k, s in samples.items():
        p50, mean = statistics.median(s), statistics.fmean(s)
        print(f"{k:16} {p50:8.3f} {mean:8.3f} {p50 / base_p50:9.3f} {mean / base_mean:10.3f}")
    for k in ("capture", "capture+inputs"):
        rt = runtimes[k]
        rt.captures.flush_blocking()
        missing = [i for i in ids[k][-50:] if rt.captures.store.get(i) is None]
        print(
            f"{k}: {len(ids[k])} ids handed out, {rt.captures.written} rows written, last 50 all stored: {not missing}"
        )
    for rt in runtimes.values():
        await rt.aclose()


if __name__ == "__main__":
    anyio.run(main)
