"""Prometheus text exposition: calls by tool and outcome, latency histograms, batching,
queues, halts, cache. Counters live in this process; Prometheus aggregates replicas."""

from __future__ import annotations

import bisect
from typing import Any

BUCKETS_MS = (0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000)


class Metrics:
    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = {}
        self.hist: dict[str, list[int]] = {}
        self.sum_ms: dict[str, float] = {}
        self.quality: dict[tuple[str, str, str], float] = {}
        self.degradations: dict[tuple[str, str], int] = {}

    def set_quality(self, model: str, version: str, metric: str, value: float) -> None:
        self.quality[(model, version, metric)] = value

    def count_degradation(self, model: str, rule: str) -> None:
        self.degradations[(model, rule)] = self.degradations.get((model, rule), 0) + 1

    def observe(self, tool: str, outcome: str, ms: float) -> None:
        key = (tool, outcome)
        self.calls[key] = self.calls.get(key, 0) + 1
        counts = self.hist.get(tool)
        if counts is None:
            counts = self.hist[tool] = [0] * (len(BUCKETS_MS) + 1)
        counts[bisect.bisect_left(BUCKETS_MS, ms)] += 1
        self.sum_ms[tool] = self.sum_ms.get(tool, 0.0) + ms

    def render(
        self, *, cache: Any, batchers: dict[str, dict[str, Any]], halts: int, ledger: dict[str, Any]
    ) -> str:
        out = [
            "# HELP mlgate_tool_calls_total Tool calls by tool and outcome.",
            "# TYPE mlgate_tool_calls_total counter",
        ]
        out += [
            f'mlgate_tool_calls_total{{tool="{t}",outcome="{o}"}} {n}'
            for (t, o), n in sorted(self.calls.items())
        ]
        out += [
            "# HELP mlgate_tool_latency_seconds Tool call latency.",
            "# TYPE mlgate_tool_latency_seconds histogram",
        ]
        for tool, counts in sorted(self.hist.items()):
            running = 0
            for bound, n in zip(BUCKETS_MS, counts, strict=False):
                running += n
                out.append(
                    f'mlgate_tool_latency_seconds_bucket{{tool="{tool}",le="{bound / 1000:g}"}} {running}'
                )
            out.append(f'mlgate_tool_latency_seconds_bucket{{tool="{tool}",le="+Inf"}} {sum(counts)}')
            out.append(f'mlgate_tool_latency_seconds_sum{{tool="{tool}"}} {self.sum_ms[tool] / 1000:.6f}')
            out.append(f'mlgate_tool_latency_seconds_count{{tool="{tool}"}} {sum(counts)}')
        out += [
            "# TYPE mlgate_batch_queue_depth gauge",
            "# TYPE mlgate_batches_total counter",
            "# TYPE mlgate_batch_rows_total counter",
            "# TYPE mlgate_batch_mean_size gauge",
        ]
        for name, st in sorted(batchers.items()):
            label = f'{{model="{name}"}}'
            out += [
                f"mlgate_batch_queue_depth{label} {st.get('queue_depth', 0)}",
                f"mlgate_batches_total{label} {st.get('batches', 0)}",
                f"mlgate_batch_rows_total{label} {st.get('rows', 0)}",
                f"mlgate_batch_mean_size{label} {st.get('mean_batch_size') or 0}",
            ]
        st = cache.stats()
        out += [
            "# TYPE mlgate_halts_active gauge",
            f"mlgate_halts_active {halts}",
            "# TYPE mlgate_cache_bytes gauge",
            f"mlgate_cache_bytes {st.bytes}",
            "# TYPE mlgate_cache_models gauge",
            f"mlgate_cache_models {st.entries}",
            "# TYPE mlgate_cache_hits_total counter",
            f"mlgate_cache_hits_total {st.hits}",
            "# TYPE mlgate_cache_loads_total counter",
            f"mlgate_cache_loads_total {st.loads}",
            "# TYPE mlgate_ledger_pending gauge",
            f"mlgate_ledger_pending {ledger.get('pending', 0)}",
            "# TYPE mlgate_live_quality gauge",
            *(f'mlgate_live_quality{{model="{m}",version="{v}",metric="{k}"}} {x}'
              for (m, v, k), x in sorted(self.quality.items())),
            "# TYPE mlgate_degradations_total counter",
            *(f'mlgate_degradations_total{{model="{m}",rule="{r}"}} {n}' for (m, r), n in sorted(self.degradations.items())),
        ]  # fmt: skip
        return "\n".join(out) + "\n"

    def percentiles(self, tool: str) -> dict[str, float | None]:
        """Approximate p50/p99 in ms from the histogram (upper bucket bounds)."""
        counts = self.hist.get(tool)
        if not counts:
            return {"p50_ms": None, "p99_ms": None}
        total = sum(counts)
        out: dict[str, float | None] = {}
        for label, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
            running, value = 0, None
            for bound, n in zip((*BUCKETS_MS, float("inf")), counts, strict=True):
                running += n
                if running >= q * total:
                    value = bound
                    break
            out[label] = value
        return out
