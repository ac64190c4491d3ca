"""Metrics on prometheus_client: labels (tool, outcome, model), bounded model labels, a private registry
per runtime, percentiles and per-model traffic from the histograms, quality gauges and degradations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families

from mlgate.config import Settings
from mlgate.errors import (
    BackendError,
    Cancelled,
    GuardRefused,
    Halted,
    InsufficientScope,
    InvalidInput,
    JobInterrupted,
    NotFound,
    Overloaded,
)
from mlgate.schemas.stamp import ModelStamp
from mlgate.server.app import build_server
from mlgate.serving.metrics import Metrics, outcome_of
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, tool_payload


class _Cache:
    def stats(self) -> Any:
        class S:
            bytes, entries, hits, loads = 10, 1, 2, 1

        return S()


def samples(m: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels: value} of every sample called ``name`` in the text exposition."""
    text = m.render(cache=_Cache(), batchers={}, halts=0, ledger={})
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def stamp(name: str, version: int = 1) -> ModelStamp:
    return ModelStamp(name=name, version=version, ref=f"{name}@{version}", sha256=None)


def test_outcomes_split_refusals_from_errors() -> None:
    refused = [
        InsufficientScope("ml_predict", "ml:infer"),
        GuardRefused("x", "y", rule="r", kind="range", feature="f", value=1.0),
        Halted("halted"),
        Overloaded("full"),
    ]
    errors = [InvalidInput("bad"), NotFound("no"), BackendError("boom"), Cancelled(), JobInterrupted("gone")]
    assert [outcome_of(e) for e in refused] == ["refused"] * 4
    assert [outcome_of(e) for e in [*errors, RuntimeError("x")]] == ["error"] * 6
    assert outcome_of(None) == "ok"


def test_calls_counted_by_tool_outcome_and_registered_name() -> None:
    m = Metrics()
    m.call("ml_predict", None, 2.0, stamp("reg", 3), "reg@production")
    m.call("ml_predict", None, 2.0, stamp("reg", 4), "reg@4")
    m.call("ml_predict", Halted("halted"), 0.1, None, "reg@production")  # resolved before: labelled
    m.call("ml_list_models", None, 1.0, None, None)
    calls = samples(m, "mlgate_tool_calls_total")
    assert calls == {
        (("model", "reg"), ("outcome", "ok"), ("tool", "ml_predict")): 2.0,  # versions share the name
        (("model", "reg"), ("outcome", "refused"), ("tool", "ml_predict")): 1.0,
        (("model", ""), ("outcome", "ok"), ("tool", "ml_list_models")): 1.0,
    }


def test_names_that_never_resolved_share_one_empty_label() -> None:
    m = Metrics()
    for i in range(50):
        m.call("ml_predict", NotFound("unknown"), 0.1, None, f"typo-{i}@1")
        m.call("ml_predict", NotFound("unknown"), 0.1, None, f"hf:org/repo{i}@main")
    m.call("ml_predict", InvalidInput("bad"), 0.1, None, "not a ref at all")
    calls = samples(m, "mlgate_tool_calls_total")
    assert calls == {(("model", ""), ("outcome", "error"), ("tool", "ml_predict")): 101.0}


def test_hub_snapshots_are_labelled_without_their_revision() -> None:
    m = Metrics()
    commit = "a" * 40
    m.call(
        "ml_analyze",
        None,
        1.0,
        ModelStamp(name=f"hf:Org/Repo@{commit}", version=0, ref="r", sha256=None),
        "r",
    )
    m.call(
        "ml_analyze", BackendError("boom"), 1.0, None, f"hf:org/repo@{'b' * 40}"
    )  # ids are case-insensitive
    calls = samples(m, "mlgate_tool_calls_total")
    assert set(calls.values()) == {1.0} and {dict(k)["model"] for k in calls} == {"hf:Org/Repo"}


def test_a_model_acquired_but_failing_is_counted_under_its_name() -> None:
    m = Metrics()
    m.resolved("fresh")  # what Runtime.serve does once the model is acquired
    m.call("ml_predict", BackendError("boom"), 1.0, None, "fresh@2")
    assert samples(m, "mlgate_tool_calls_total") == {
        (("model", "fresh"), ("outcome", "error"), ("tool", "ml_predict")): 1.0
    }


def test_each_metrics_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.observe("ml_predict", "ok", 1.0, "x")
    a.observe("ml_predict", "ok", 1.0, "x")
    b.observe("ml_predict", "ok", 1.0, "x")
    key = (("model", "x"), ("outcome", "ok"), ("tool", "ml_predict"))
    assert samples(a, "mlgate_tool_calls_total")[key] == 2.0
    assert samples(b, "mlgate_tool_calls_total")[key] == 1.0


def test_percentiles_and_traffic_come_from_the_histogram() -> None:
    m = Metrics()
    for _ in range(90):
        m.observe("ml_predict", "ok", 3.0, "a")  # bucket le=5 ms
    for _ in range(9):
        m.observe("ml_predict", "error", 40.0, "a")  # le=50 ms
    m.observe("ml_classify", "refused", 700.0, "a")  # le=1000 ms
    m.observe("ml_model_info", "ok", 9000.0, "a")  # not an inference call: not traffic
    m.observe("ml_predict", "ok", 0.1, "b")
    assert m.percentiles("ml_predict") == {"p50_ms": 5.0, "p99_ms": 50.0}
    assert m.percentiles("ml_segment") == {"p50_ms": None, "p99_ms": None}
    assert m.tools() == ["ml_classify", "ml_model_info", "ml_predict"]
    traffic = m.traffic()
    assert traffic["a"] == {"calls": 100, "ok": 90, "errors": 9, "refused": 1, "p50_ms": 5.0, "p99_ms": 50.0}
    assert traffic["b"] == {"calls": 1, "ok": 1, "errors": 0, "refused": 0, "p50_ms": 0.25, "p99_ms": 0.25}
    hist = samples(m, "mlgate_tool_latency_seconds_count")
    assert hist[(("model", "a"), ("tool", "ml_predict"))] == 99.0


def test_quality_gauge_and_degradation_counter() -> None:
    m = Metrics()
    m.set_quality("reg", "3", "mae", 1.25)
    m.set_quality("reg", "3", "mae", 1.5)
    m.set_quality("reg", "4", "coverage_0.95", 0.91)
    m.count_degradation("reg", "mae_ratio")
    m.count_degradation("reg", "mae_ratio")
    assert samples(m, "mlgate_live_quality") == {
        (("metric", "mae"), ("model", "reg"), ("version", "3")): 1.5,
        (("metric", "coverage_0.95"), ("model", "reg"), ("version", "4")): 0.91,
    }
    assert samples(m, "mlgate_degradations_total") == {(("model", "reg"), ("rule", "mae_ratio")): 2.0}


def test_scrape_time_gauges_keep_their_names() -> None:
    m = Metrics()
    text = m.render(
        cache=_Cache(),
        batchers={"f@1:predict": {"queue_depth": 3, "batches": 2, "rows": 9}},
        halts=1,
        ledger={},
    )
    values = {
        (s.name, tuple(s.labels.values())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert values[("mlgate_batch_queue_depth", ("f@1:predict",))] == 3
    assert values[("mlgate_batches_total", ("f@1:predict",))] == 2
    assert values[("mlgate_batch_rows_total", ("f@1:predict",))] == 9
    assert values[("mlgate_halts_active", ())] == 1 and values[("mlgate_cache_bytes", ())] == 10
    assert values[("mlgate_cache_hits_total", ())] == 2 and values[("mlgate_ledger_pending", ())] == 0
    assert "_created" not in text


@pytest.mark.anyio
async def test_serving_status_reports_traffic_per_model(tmp_path: Path, demo_home: Path) -> None:
    settings = Settings(home=demo_home, state_url=f"sqlite:///{tmp_path / 'state.db'}")
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        for _ in range(3):
            assert not (
                await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
            ).is_error
        bad = await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [{"age": "x"}]})
        await c.call_tool("ml_halt", {"model": "demo-regressor", "reason": "test"})
        halted = await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
        await c.call_tool("ml_resume", {"model": "demo-regressor"})
        await c.call_tool("ml_predict", {"model": "no-such-model@1", "features": [DIABETES_ROW]})
        err, status = tool_payload(await c.call_tool("ml_serving_status", {}))
    await rt.aclose()
    assert bad.is_error and halted.is_error and not err
    assert [t["model"] for t in status["traffic"]] == ["demo-regressor"], status["traffic"]
    row = status["traffic"][0]
    assert (row["calls"], row["ok"], row["errors"], row["refused"]) == (5, 3, 1, 1), row
    assert row["p50_ms"] is not None and row["p99_ms"] >= row["p50_ms"]
    assert status["latency"]["ml_predict"]["p50_ms"] is not None


OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def test_a_traced_call_leaves_its_trace_id_as_an_exemplar_in_openmetrics_only() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

    m = Metrics()
    m.call("ml_predict", None, 3.0, stamp("reg"), "reg@1", trace_id="ab" * 16)
    m.call("ml_predict", None, 3.0, stamp("reg"), "reg@1")  # untraced: the exemplar stays the last traced one
    m.call("ml_list_models", None, 1.0, None, None)  # never traced: no exemplar
    body, content_type = m.exposition(OPENMETRICS, cache=_Cache(), batchers={}, halts=0, ledger={})
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    exemplars = {
        (s.name, s.labels.get("tool"), s.labels.get("le")): s.exemplar
        for f in parse_openmetrics(body.decode())
        for s in f.samples
        if s.exemplar is not None
    }
    assert set(exemplars) == {
        ("mlgate_tool_calls_total", "ml_predict", None),
        ("mlgate_tool_latency_seconds_bucket", "ml_predict", "0.005"),  # the bucket 3 ms fell in
    }, exemplars
    assert {e.labels["trace_id"] for e in exemplars.values()} == {"ab" * 16}
    assert exemplars[("mlgate_tool_latency_seconds_bucket", "ml_predict", "0.005")].value == 0.003
    # the classic text format has no exemplars (and a scraper that does not ask gets it)
    for accept in ("", "text/plain;version=0.0.4", "*/*"):
        body, content_type = m.exposition(accept, cache=_Cache(), batchers={}, halts=0, ledger={})
        assert content_type.startswith("text/plain") and b"trace_id" not in body
