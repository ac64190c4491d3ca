"""Cost of recording one tool call in the metrics: prometheus_client (serving/metrics.py now) against the
hand-written counters it replaced, in the same run, beside a warm one-row in-process ``ml_predict``.

    PYTHONPATH=$PWD/src .venv/bin/python bench/metrics_observe.py [--n 200000]

Prints µs per recorded call (median of 5 rounds) for: the old ``observe(tool, outcome, ms)``; the new
``observe(tool, outcome, ms, model)``; the new ``call(...)`` that ``Runtime.record`` makes (outcome from the
error, model label from the stamp); the same with a trace exemplar (what a traced call records with
``MLGATE_OTEL``); the same with the multiprocess (memory-mapped) values; and the share of
a warm one-row ``ml_predict`` through the SDK's in-memory client each represents.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logging.disable(logging.INFO)
BUCKETS_MS = (0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000)
ROW = {"age": 0.04, "sex": 0.05, "bmi": 0.06, "bp": 0.02, "s1": -0.04}
ROW |= {"s2": -0.03, "s3": -0.04, "s4": 0.0, "s5": 0.02, "s6": -0.02}


class OldMetrics:
    """The hand-written recording path before prometheus_client (serving/metrics.py at b71a5fe)."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = {}
        self.hist: dict[str, list[int]] = {}
        self.sum_ms: dict[str, float] = {}

    def observe(self, tool: str, outcome: str, ms: float) -> None:
        key = (tool, outcome)
        self.calls[key] = self.calls.get(key, 0) + 1
        counts = self.hist.get(tool)
        if counts is None:
            counts = self.hist[tool] = [0] * (len(BUCKETS_MS) + 1)
        counts[bisect.bisect_left(BUCKETS_MS, ms)] += 1
        self.sum_ms[tool] = self.sum_ms.get(tool, 0.0) + ms


def per_call_us(fn: Callable[[], None], n: int) -> float:
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(rounds)


MULTIPROC = """
import sys, time, statistics
from mlgate.serving.metrics import Metrics
from mlgate.schemas.stamp import ModelStamp
m = Metrics(sys.argv[1]); n = int(sys.argv[2])
st = ModelStamp(name="demo-regressor", version=1, ref="demo-regressor@1", sha256=None)
rounds = []
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(n):
        m.call("ml_predict", None, 3.0, st, "demo-regressor@1")
    rounds.append((time.perf_counter() - t0) / n * 1e6)
print(statistics.median(rounds))
"""


async def predict_us(n: int) -> float:
    from mcp import Client

    from mlgate.config import Settings
    from mlgate.demo import seed_demo
    from mlgate.server.app import build_server
    from mlgate.serving.runtime import Runtime

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="mlgate-bench-")))
    seed_demo(settings, echo=lambda _m: None)
    rt = Runtime(settings)
    args = {"model": "demo-regressor@1", "features": [ROW]}
    out = []
    async with Client(build_server(rt)) as c:
        for _ in range(50):
            assert not (await c.call_tool("ml_predict", args)).is_error
        for _ in range(n):
            t0 = time.perf_counter()
            await c.call_tool("ml_predict", args)
            out.append((time.perf_counter() - t0) * 1e6)
    await rt.aclose()
    return statistics.median(out)


def main() -> None:
    import anyio

    from mlgate.schemas.stamp import ModelStamp
    from mlgate.serving.metrics import Metrics

    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--calls", type=int, default=400)
    a = p.parse_args()
    old, new = OldMetrics(), Metrics()
    stamp = ModelStamp(name="demo-regressor", version=1, ref="demo-regressor@1", sha256=None)
    rows: list[tuple[str, float]] = [
        ("old observe(tool, outcome, ms)", per_call_us(lambda: old.observe("ml_predict", "ok", 3.0), a.n)),
        (
            "new observe(tool, outcome, ms, model)",
            per_call_us(lambda: new.observe("ml_predict", "ok", 3.0, "m"), a.n),
        ),
        (
            "new call(...) as Runtime.record makes it",
            per_call_us(lambda: new.call("ml_predict", None, 3.0, stamp, "r"), a.n),
        ),
        (
            "new call(...) with a trace exemplar",
            per_call_us(lambda: new.call("ml_predict", None, 3.0, stamp, "r", "ab" * 16), a.n),
        ),
    ]
    with tempfile.TemporaryDirectory() as d:
        done = subprocess.run(
            [sys.executable, "-c", MULTIPROC, d, str(a.n // 4)], capture_output=True, text=True, check=True
        )
        rows.append(("new call(...), multiprocess (mmap) values", float(done.stdout)))
    call = anyio.run(predict_us, a.calls)
    base = rows[0][1]
    print(f"warm one-row ml_predict in process (SDK memory client): median {call:.0f} µs\n")
    print(f"{'path':<44} {'µs/call':>8} {'× old':>6} {'% of ml_predict':>16}")
    for name, us in rows:
        print(f"{name:<44} {us:>8.2f} {us / base:>6.1f} {100 * us / call:>15.2f}%")


if __name__ == "__main__":
    main()
