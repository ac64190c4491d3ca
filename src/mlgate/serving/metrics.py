"""Prometheus metrics on ``prometheus_client``: tool calls by tool, outcome and model, latency
histograms, live quality and degradations, plus what serving looks like at scrape time
(batch queues, halts, cache, ledger).

Each ``Metrics`` (one per ``Runtime``) owns a private ``CollectorRegistry``, so several
runtimes in one process (tests) never collide and nothing lands in the library's global
registry.

Labels and their cardinality:

* ``tool``: the canonical tool name (bounded by the tool list).
* ``outcome``: ``ok``; ``refused`` — serving declined by policy or state, the model did not
  answer (``Refused``: scope, guard rule in mode refuse, code not admitted, allow-list;
  ``Unavailable``: halted, overloaded, breaker open, ledger down — except
  ``JobInterrupted``); ``error`` — everything else that failed (bad arguments, unknown
  model or version, wrong interface, digest mismatch, the model or a remote engine
  failing, a job failing or interrupted, a call its client cancelled, an unexpected
  exception).
* ``model``: the registered name, never the version or alias (``hf:org/repo`` for a Hub
  snapshot, without the revision), and only for a model that resolved in this process —
  a stamp on a result, or ``Runtime.serve`` having acquired it. A reference that never
  resolved (a typo, an unknown name, an unpulled snapshot) gets ``model=""``, so callers
  cannot mint series: the label's values are bounded by the registry and the pull
  allow-list. ``mlgate_live_quality`` adds ``version`` (set only by the live-quality
  monitor, for versions that have matched actuals) and ``metric``.

Multiprocess mode (several processes on one host, one scrape target): with
``MLGATE_METRICS_MULTIPROC_DIR`` (or the library's own ``PROMETHEUS_MULTIPROC_DIR``) set,
the process switches ``prometheus_client`` to its memory-mapped values, one file per
process in that folder. ``/metrics`` then renders every file there: counters and
histograms summed over processes, ``mlgate_live_quality`` the most recent value any
process set. The scrape-time gauges (batch queues, halts, cache, ledger) stay those of
the process that answered. The switch is process-wide and happens when the first
``Metrics`` is built; one ``Runtime`` per process then (two would share the same file
slots). Empty the folder when the fleet restarts (a reused pid would resume old counts).
``percentiles``, ``traffic`` and ``tools`` always read this process's own values.

Exemplars: with tracing on (``MLGATE_OTEL``), a call's ``mlgate_tool_calls_total`` and latency bucket
carry an exemplar ``{trace_id="…"}`` — the last traced call of that series, the same id as its
ledger row — so a dashboard jumps from a latency spike to its trace. Only the OpenMetrics
exposition shows them: ``/metrics`` answers in OpenMetrics when the scraper asks for it
(``Accept: application/openmetrics-text``, Prometheus with exemplar storage on), otherwise in the
classic text format. Tracing off: no exemplar is recorded. Multiprocess mode keeps none (the
library stores no exemplar in its memory-mapped values).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlgate.errors import JobInterrupted, MlgateError, Refused, Unavailable
from mlgate.models.ref import parse_ref
from mlgate.process import prometheus_multiprocess
from mlgate.schemas.interfaces import TOOL_OF

BUCKETS_MS = (0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000)
INFERENCE_TOOLS = frozenset(TOOL_OF.values())
OUTCOMES = ("ok", "refused", "error")


def outcome_of(error: BaseException | None) -> str:
    """``ok``, ``refused`` or ``error`` (see the module docstring for which errors are which)."""
    if error is None:
        return "ok"
    if isinstance(error, Refused) or (
        isinstance(error, Unavailable) and not isinstance(error, JobInterrupted)
    ):
        return "refused"
    return "error"


def model_label(name: str) -> str:
    """A registered name as is; a Hub snapshot ``hf:org/repo@commit`` without its revision."""
    return name.partition("@")[0] if name.startswith("hf:") else name


class Metrics:
    def __init__(self, multiproc_dir: str | Path | None = None) -> None:
        found = multiproc_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.multiproc_dir: Path | None = Path(found) if found else None
        if self.multiproc_dir is not None:
            prometheus_multiprocess(self.multiproc_dir)  # process-wide: mlgate/process.py
        # no `_created` series beside each counter and histogram (a process-wide switch of the library)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self._calls = Counter(
            "mlgate_tool_calls",
            "Tool calls by tool, outcome and model.",
            ("tool", "outcome", "model"),
            registry=r,
        )
        self._latency = Histogram(
            "mlgate_tool_latency_seconds",
            "Tool call latency by tool and model.",
            ("tool", "model"),
            buckets=[b / 1000 for b in BUCKETS_MS],
            registry=r,
        )
        self._quality = Gauge(
            "mlgate_live_quality",
            "Live quality of a version against matched actuals, by metric.",
            ("model", "version", "metric"),
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self._degradations = Counter(
            "mlgate_degradations",
            "Degradation rules that fired, by model and rule.",
            ("model", "rule"),
            registry=r,
        )
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._resolved: dict[str, str] = {}  # lookup key (hf: lower-cased) → model label
        self._labels: dict[str, str] = {}  # stamp name → model label (hf: without the revision)

    # -- recording ---------------------------------------------------------------------
    def observe(
        self, tool: str, outcome: str, ms: float, model: str = "", trace_id: str | None = None
    ) -> None:
        key = (tool, outcome, model)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (
                self._calls.labels(tool, outcome, model),
                self._latency.labels(tool, model),
            )
        if trace_id is None:
            child[0].inc()
            child[1].observe(ms / 1000)
        else:
            exemplar = {"trace_id": trace_id}
            child[0].inc(exemplar=exemplar)
            child[1].observe(ms / 1000, exemplar=exemplar)

    def call(
        self,
        tool: str,
        error: BaseException | None,
        ms: float,
        stamp: Any,
        ref: str | None,
        trace_id: str | None = None,
    ) -> None:
        """One finished tool call: ``stamp`` the result's model stamp (or None), ``ref`` what it asked for,
        ``trace_id`` its trace (an exemplar on its counter and latency bucket; None: none)."""
        name = getattr(stamp, "name", None)
        if isinstance(name, str) and hasattr(stamp, "version"):
            model = self.resolved(name)
        else:
            model = self.label_of(ref) if ref else ""
        self.observe(tool, outcome_of(error), ms, model, trace_id)

    def resolved(self, name: str) -> str:
        """Note that ``name`` (a stamp's name) resolved here: its calls get a model label from now on."""
        label = self._labels.get(name)
        if label is None:
            label = self._labels[name] = model_label(name)
            self._resolved.setdefault(_key(label), label)
        return label

    def label_of(self, ref: str) -> str:
        """The model label of a reference as the caller wrote it: its name if it resolved here, else ''."""
        try:
            parsed = parse_ref(ref, allow_latest=True)
        except MlgateError:
            return ""
        name = f"hf:{parsed.name}" if parsed.source == "hf" else parsed.name
        return self._resolved.get(_key(name), "")

    def set_quality(self, model: str, version: str, metric: str, value: float) -> None:
        self._quality.labels(model_label(model), str(version), metric).set(value)

    def count_degradation(self, model: str, rule: str) -> None:
        self._degradations.labels(model_label(model), rule).inc()

    # -- reading this process's values ----------------------------------------------------
    def tools(self) -> list[str]:
        return sorted({t for t, _, _ in self._children})

    def percentiles(self, tool: str) -> dict[str, float | None]:
        """Approximate p50/p99 in ms of ``tool`` over all models (upper bucket bounds)."""
        return _quantiles(self._buckets(lambda labels: labels["tool"] == tool))

    def traffic(self) -> dict[str, dict[str, Any]]:
        """Per model label (inference tools only): calls, ok, errors, refused, p50_ms, p99_ms."""
        out: dict[str, dict[str, Any]] = {}
        for s in _samples(self._calls, "mlgate_tool_calls_total"):
            model, tool = s.labels["model"], s.labels["tool"]
            if not model or tool not in INFERENCE_TOOLS:
                continue
            row = out.setdefault(model, {"calls": 0, "ok": 0, "errors": 0, "refused": 0})
            field = {"ok": "ok", "refused": "refused"}.get(s.labels["outcome"], "errors")
            row[field] += int(s.value)
            row["calls"] += int(s.value)
        for model, row in out.items():
            row.update(_quantiles(self._buckets(_inference_of(model))))
        return out

    def _buckets(self, keep: Callable[[dict[str, str]], bool]) -> list[tuple[float, float]]:
        """Cumulative (upper bound in ms, count) of the latency samples whose labels ``keep`` accepts."""
        totals: dict[float, float] = {}
        for s in _samples(self._latency, "mlgate_tool_latency_seconds_bucket"):
            if keep(s.labels):
                bound = float(s.labels["le"]) * 1000
                totals[bound] = totals.get(bound, 0.0) + s.value
        return sorted(totals.items())

    # -- exposition ------------------------------------------------------------------------
    def render(
        self, *, cache: Any, batchers: dict[str, dict[str, Any]], halts: int, ledger: dict[str, Any]
    ) -> str:
        """The classic text exposition (see ``exposition``)."""
        return self.exposition("", cache=cache, batchers=batchers, halts=halts, ledger=ledger)[0].decode()

    def exposition(
        self,
        accept: str,
        *,
        cache: Any,
        batchers: dict[str, dict[str, Any]],
        halts: int,
        ledger: dict[str, Any],
    ) -> tuple[bytes, str]:
        """(body, content type) for a scraper whose ``Accept`` header is ``accept``: OpenMetrics (with
        exemplars) when it asks for ``application/openmetrics-text``, the classic text format otherwise.
        It holds this registry (or, in multiprocess mode, every process's files) and the scrape-time
        gauges of this process."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        live = _Live(cache=cache, batchers=batchers, halts=halts, ledger=ledger)
        if self.multiproc_dir is None:
            return encoder(_Chain(self.registry, live)), content_type
        from prometheus_client.multiprocess import MultiProcessCollector

        merged = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(merged, path=str(self.multiproc_dir))  # type: ignore[no-untyped-call]
        return encoder(_Chain(merged, live)), content_type


def _inference_of(model: str) -> Callable[[dict[str, str]], bool]:
    return lambda labels: labels["model"] == model and labels["tool"] in INFERENCE_TOOLS


def _key(label: str) -> str:
    return label.lower() if label.startswith("hf:") else label  # Hub ids are case-insensitive


def _samples(metric: Any, name: str) -> Iterator[Any]:
    for family in metric.collect():
        yield from (s for s in family.samples if s.name == name)


def _quantiles(buckets: list[tuple[float, float]]) -> dict[str, float | None]:
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return {"p50_ms": None, "p99_ms": None}
    out: dict[str, float | None] = {}
    for label, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
        out[label] = next(bound for bound, running in buckets if running >= q * total)
    return out


class _Chain(Collector):
    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for c in self.collectors:
            yield from c.collect()


class _Live(Collector):
    """What serving looks like when scraped: batch queues, halts, cache, ledger (this process)."""

    def __init__(
        self, *, cache: Any, batchers: dict[str, dict[str, Any]], halts: int, ledger: dict[str, Any]
    ):
        self.cache, self.batchers, self.halts, self.ledger = cache, batchers, halts, ledger

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "mlgate_batch_queue_depth", "Rows waiting per batched model.", labels=["model"]
        )
        batches = CounterMetricFamily("mlgate_batches", "Batches run per batched model.", labels=["model"])
        rows = CounterMetricFamily("mlgate_batch_rows", "Rows batched per batched model.", labels=["model"])
        mean = GaugeMetricFamily(
            "mlgate_batch_mean_size", "Mean batch size per batched model.", labels=["model"]
        )
        for name, st in sorted(self.batchers.items()):
            depth.add_metric([name], st.get("queue_depth", 0))
            batches.add_metric([name], st.get("batches", 0))
            rows.add_metric([name], st.get("rows", 0))
            mean.add_metric([name], st.get("mean_batch_size") or 0)
        yield from (depth, batches, rows, mean)
        st = self.cache.stats()
        yield GaugeMetricFamily("mlgate_halts_active", "Halts in force.", value=self.halts)
        yield GaugeMetricFamily("mlgate_cache_bytes", "Bytes of the loaded models.", value=st.bytes)
        yield GaugeMetricFamily("mlgate_cache_models", "Versions loaded.", value=st.entries)
        yield CounterMetricFamily("mlgate_cache_hits", "Model cache hits.", value=st.hits)
        yield CounterMetricFamily("mlgate_cache_loads", "Model loads.", value=st.loads)
        yield GaugeMetricFamily(
            "mlgate_ledger_pending", "Ledger rows not yet committed.", value=self.ledger.get("pending", 0)
        )
