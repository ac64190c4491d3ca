"""Spawn → initialized over stdio: `mlgate serve` against the MCP SDK's minimal server, same run.

    .venv/bin/python bench/startup.py [--n 15]

What Claude Desktop or VS Code pays at each start: the process is spawned, the client sends
`initialize` and waits for the answer. The two servers are spawned alternately (so drift in the
machine's load falls on both), each on the demo registry with its default warm-up; the warm-up
must never delay `initialize`. Prints p50 / p90 and the ratio. ``--before SRC`` adds a third
server, ``mlgate serve`` run from another source tree (``PYTHONPATH=SRC``), in the same rotation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent


async def spawn_to_initialized(command: list[str], env: dict[str, str]) -> float:
    """Milliseconds from spawning ``command`` to the answer of ``initialize``."""
    from mcp import StdioServerParameters
    from mcp.client.session import ClientSession
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    t0 = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        elapsed = (time.perf_counter() - t0) * 1000
    return elapsed


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=15)
    p.add_argument("--before", metavar="SRC", help="also time mlgate from this source tree (PYTHONPATH)")
    a = p.parse_args()
    from mlgate.config import Settings
    from mlgate.demo import seed_demo

    home = Path(os.environ.get("MLGATE_HOME") or tempfile.mkdtemp(prefix="mlgate-bench-"))
    seed_demo(Settings(home=home), echo=lambda _m: None)
    env = dict(os.environ, MLGATE_HOME=str(home))
    servers = {
        "minimal SDK server": ([sys.executable, str(HERE / "noop_server.py"), "stdio"], env),
        "mlgate serve": ([sys.executable, "-m", "mlgate", "serve"], env),
    }
    if a.before:
        servers[f"mlgate serve ({a.before})"] = (
            [sys.executable, "-m", "mlgate", "serve"],
            dict(env, PYTHONPATH=a.before),
        )
    samples: dict[str, list[float]] = {name: [] for name in servers}
    for command, server_env in servers.values():  # one unmeasured start each: the file cache
        await spawn_to_initialized(command, server_env)
    for _ in range(a.n):
        for name, (command, server_env) in servers.items():
            samples[name].append(await spawn_to_initialized(command, server_env))
    print(f"\nspawn → initialized over stdio, n={a.n} each, alternated (ms)\n")
    print("| server | p50 | p90 | p50 ratio |")
    print("|---|---|---|---|")
    base = statistics.median(samples["minimal SDK server"])
    for name, values in samples.items():
        s = sorted(values)
        p50, p90 = statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.9))]
        print(f"| {name} | {p50:.0f} | {p90:.0f} | {p50 / base:.2f}× |")


if __name__ == "__main__":
    anyio.run(main)
