"""Cost of one quality check against how many actuals a version has matched: 1k vs 100k.

    PYTHONPATH=src .venv/bin/python bench/quality_check.py [--sizes 1000 100000] [--checks 50]

For each size, a fresh SQLite state database gets that many captured predictions of one predictor
version (spread over the last 30 days) with their actuals recorded (which fills the running sums).
Then one *check* is what ``ml_record_actuals`` does per call after the flush: join one new actual
(``CaptureStore.record_actuals``) and read the version's statistics for the rule
(``CaptureStore.quality``: the running total, or a rule's 24 h window: whole hours of sums), then
derive the metrics. Printed: the median milliseconds of a check, with no
window and with a 24 h window, and for contrast the old way's cost — reading every matched row
(``CaptureStore.matched``). Target: flat from 1k to 100k.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mlgate.lifecycle.quality import by_version, live_metrics
from mlgate.state.captures import Capture, CaptureStore, Subjects
from mlgate.state.db import StateDB
from mlgate.state.quality_sums import hour_start

WHO = Subjects(frozenset({"bench"}))


def filled(folder: Path, n: int, extra: int) -> CaptureStore:
    store = CaptureStore(StateDB(f"sqlite:///{folder / 'state.db'}"))
    rng = np.random.default_rng(0)
    now = time.time()
    preds = rng.normal(10.0, 3.0, n + extra)
    rows = [
        Capture(f"p{i:031d}", None, "m", 1, None, "predictor", now - (i / n) * 30 * 86400, float(preds[i]),
                None, "bench")
        for i in range(n + extra)
    ]  # fmt: skip
    for i in range(0, len(rows), 10_000):
        store.insert_many(rows[i : i + 10_000])
    truth = preds[:n] + rng.normal(0.0, 0.5, n)
    for i in range(0, n, 10_000):
        store.record_actuals("m", {f"p{j:031d}": float(truth[j]) for j in range(i, min(n, i + 10_000))}, WHO)
    return store


def check(store: CaptureStore, ref: str, since: float | None) -> float:
    t0 = time.perf_counter()
    store.record_actuals("m", {ref: 11.0}, WHO)
    kind, stats = by_version(store.quality("m", since, [1]))[1]
    live, _, matched = live_metrics(kind, stats)
    assert "mae" in live and matched > 0
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    ap.add_argument("--checks", type=int, default=50)
    args = ap.parse_args()
    print(f"{'matched':>8} {'check ms (all)':>15} {'check ms (24h)':>15} {'full re-read ms':>16}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = filled(Path(tmp), n, 2 * args.checks)
            fresh = iter(f"p{i:031d}" for i in range(n, n + 2 * args.checks))
            total = [check(store, next(fresh), None) for _ in range(args.checks)]
            day = [check(store, next(fresh), hour_start(time.time() - 86400)) for _ in range(args.checks)]
            t0 = time.perf_counter()
            rows = store.matched("m")
            reread = (time.perf_counter() - t0) * 1000
            assert len(rows) >= n
            print(f"{n:>8} {statistics.median(total):>15.3f} {statistics.median(day):>15.3f} {reread:>16.1f}")
            store.db.close()


if __name__ == "__main__":
    main()
