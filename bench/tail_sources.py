"""Where the tail of a warm one-row ``ml_predict`` comes from: GC pauses, writer threads, logging.

    .venv/bin/python bench/tail_sources.py [--n 3000] [--model demo-regressor@1]

In process (SDK in-memory client, so client and server share one heap and one GIL, as they share
the cores on this machine), after a warm-up, alternating blocks of calls between configurations:

- ``as served``: what ``mlgate serve`` did before (collector on, heap not frozen);
- ``gc.freeze()``: the start-up heap moved to the permanent generation (what ``serve`` does now);
- ``freeze, switch 1 ms``: frozen, and ``sys.setswitchinterval(0.001)`` (a thread waiting for the
  GIL asks for it after 1 ms instead of 5 ms: what a writer thread's batch can hold up a call);
- ``gc off``: no collections at all (the floor a collector can reach; not a setting).

Prints p50 / p99 / p99.9 per configuration, the collections each generation ran and their pauses,
and how many of the calls above the as-served p99 overlapped a collection.
"""

from __future__ import annotations

import argparse
import gc
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


class ThreadProbe:
    """Wraps a method a background thread calls: each call's wall time and the thread's own CPU time
    (the CPU time is, to within the I/O, time the thread held the GIL the event loop needs)."""

    def __init__(self, obj: Any, name: str) -> None:
        self.calls: list[tuple[float, float, float]] = []  # start, wall, cpu
        inner = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.calls.append((t0, time.perf_counter() - t0, time.thread_time() - c0))

        setattr(obj, name, timed)


class GcProbe:
    """Each collection's generation, start and duration (perf_counter seconds), via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.events: list[tuple[int, float, float]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.events.append((int(info["generation"]), self._t0, time.perf_counter() - self._t0))


async def block(client: Any, args: dict[str, Any], n: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.call_tool("ml_predict", args)
        out.append((t0, time.perf_counter() - t0))
        assert not r.is_error, r.content
    return out


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--model", default="demo-regressor@1")
    a = p.parse_args()
    from mcp import Client

    from mlgate.config import Settings
    from mlgate.demo import seed_demo
    from mlgate.server.app import build_server
    from mlgate.serving.runtime import Runtime

    home = Path(os.environ.get("MLGATE_HOME") or tempfile.mkdtemp(prefix="mlgate-bench-"))
    settings = Settings(home=home)
    seed_demo(settings, echo=lambda _m: None)
    args = {"model": a.model, "features": [ROW]}
    probe = GcProbe()
    gc.callbacks.append(probe)
    configs = ("as served", "gc.freeze()", "freeze, switch 1 ms", "gc off")
    default_switch = sys.getswitchinterval()
    calls: dict[str, list[tuple[float, float]]] = {c: [] for c in configs}
    rt = Runtime(settings)
    async with Client(build_server(rt)) as client:
        await block(client, args, 300)  # warm: model loaded, ledger and executor open
        writers = {
            "ledger batch (StateDB.append_many)": ThreadProbe(rt.state, "append_many"),
            "halt poll (KillSwitch.refresh)": ThreadProbe(rt.killswitch, "refresh"),
        }
        t_start = time.perf_counter()
        print(f"objects tracked by the collector after warm-up: {len(gc.get_objects()):,}")
        print(f"thresholds {gc.get_threshold()}")
        step = 250
        for _ in range(max(1, a.n // step)):
            for config in configs:
                gc.unfreeze()
                gc.enable()
                sys.setswitchinterval(0.001 if config == "freeze, switch 1 ms" else default_switch)
                if config in ("gc.freeze()", "freeze, switch 1 ms"):
                    gc.collect()
                    gc.freeze()
                elif config == "gc off":
                    gc.disable()
                calls[config] += await block(client, args, step)
        gc.enable()
        sys.setswitchinterval(default_switch)
        t_all = time.perf_counter() - t_start
    gc.callbacks.remove(probe)
    gc.collect()
    t0 = time.perf_counter()
    gc.collect()
    full = (time.perf_counter() - t0) * 1000
    print(f"one full collection of this heap: {full:.1f} ms")
    total = sum(len(v) for v in calls.values())
    print(
        "\n| writer | runs per 1,000 calls | wall p50 / max ms | CPU (GIL) p50 / max ms | CPU share of the run |"
    )
    print("|---|---|---|---|---|")
    for name, w in writers.items():
        if not w.calls:
            continue
        walls = sorted(c[1] * 1000 for c in w.calls)
        cpus = sorted(c[2] * 1000 for c in w.calls)
        print(
            f"| {name} | {1000 * len(w.calls) / total:.1f} | {statistics.median(walls):.2f} / {walls[-1]:.2f} | "
            f"{statistics.median(cpus):.2f} / {cpus[-1]:.2f} | {sum(cpus) / 1000 / t_all:.1%} |"
        )

    cutoff = sorted(d for _, d in calls["as served"])[int(len(calls["as served"]) * 0.99)]
    print(f"\nwarm one-row ml_predict on {a.model}, in process, {len(calls['as served'])} calls each (ms)\n")
    print(
        "| heap | p50 | p99 | p99.9 | gen0 / gen1 / gen2 collections per 1,000 calls | gen2 pause p50 / max |"
    )
    print("|---|---|---|---|---|---|")
    for config, samples in calls.items():
        lo, hi = samples[0][0], samples[-1][0] + samples[-1][1]
        ds = sorted(d * 1000 for _, d in samples)
        spans = _spans(calls[config])
        events = [e for e in probe.events if any(s <= e[1] <= t for s, t in spans)]
        per = [1000 * sum(1 for g, _, _ in events if g == gen) / len(samples) for gen in range(3)]
        g2 = sorted(d * 1000 for g, _, d in events if g == 2) or [0.0]
        del lo, hi
        print(
            f"| {config} | {statistics.median(ds):.3f} | {ds[int(len(ds) * 0.99)]:.3f} | "
            f"{ds[int(len(ds) * 0.999)]:.3f} | {per[0]:.0f} / {per[1]:.1f} / {per[2]:.2f} | "
            f"{statistics.median(g2):.2f} / {max(g2):.2f} |"
        )
    slow = [(t, d) for t, d in calls["as served"] if d > cutoff]
    hit = sum(1 for t, d in slow if any(t <= s <= t + d for _, s, _ in probe.events))
    wrote = sum(
        1 for t, d in slow if any(s < t + d and t < s + w for p in writers.values() for s, w, _ in p.calls)
    )
    print(
        f"\nas served: of the {len(slow)} calls above p99 ({cutoff * 1000:.2f} ms), {hit} overlapped a "
        f"collection, {wrote} a writer run"
    )


def _spans(samples: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Each block's (start, end): consecutive calls closer than 50 ms belong to one block."""
    spans: list[tuple[float, float]] = []
    for t, d in samples:
        if spans and t - spans[-1][1] < 0.05:
            spans[-1] = (spans[-1][0], t + d)
        else:
            spans.append((t, t + d))
    return spans


if __name__ == "__main__":
    anyio.run(main)
