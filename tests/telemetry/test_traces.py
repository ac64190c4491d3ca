"""OpenTelemetry end to end, with the SDK's in-memory exporter: one ``ml_predict`` over real streamable
HTTP, with a real JWT, whose client sits in a trace (a gateway's ``traceparent``, which the SDK's
client puts in the request's ``_meta``) yields mlgate's spans under that trace; the remote engine
continues the same trace; the ledger row carries its id (``ml_audit``, ``mlgate audit tail``) and so
does the exemplar on the call's Prometheus counter and latency bucket (OpenMetrics scrape).

The engine is a real MLServer (its own venv, as in tests/scaleout, started by the same helper) serving
a scikit-learn model over the Open Inference Protocol. How we know it *received* the trace: MLServer's
own OpenTelemetry instrumentation (its ``tracing_server`` setting instruments its FastAPI app and
exports over OTLP/gRPC) reports the engine's SERVER span for ``/v2/models/{model_name}/infer`` to a
small OTLP receiver the test runs; that span has our trace id and, as parent, the span id of
mlgate's ``mlgate.model_call`` — the span current when mlgate sent the ``traceparent``. Nothing
stands between mlgate and the engine: the receiver only collects what the engine itself exports,
as a collector would in production.

The server runs in this process (uvicorn in a thread) so its spans land in this process's exporter.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlgate.config import Settings
from tests._support import (
    DIABETES_ROW,
    IRIS_ROW,
    free_port,
    mlgate_env,
    spawn_server,
    tool_payload,
    wait_http,
    wait_until,
)
from tests._support.auth import ALL, ISSUER, LiveServer, TestIssuer
from tests._support.lifecycle import new_name
from tests.scaleout.services import MLServerEngine, OtlpSink, SkipService, start_mlserver, stop

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is in the dev extra")
pytestmark = pytest.mark.anyio
IRIS = list(IRIS_ROW)
CLASSES = ["setosa", "versicolor", "virginica"]
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
GATEWAY_SPAN = 0x00F067AA0BA902B7
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture(scope="module")
def exporter() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    found = trace.get_tracer_provider()
    if not isinstance(found, TracerProvider):
        found = TracerProvider()
        trace.set_tracer_provider(found)  # once per process: mlgate's setup keeps a provider it finds
    memory = InMemorySpanExporter()
    found.add_span_processor(SimpleSpanProcessor(memory))
    return memory


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MLServerEngine, OtlpSink]]:
    """MLServer with its own tracing on, exporting to an OTLP receiver (each in its own process)."""
    root = tmp_path_factory.mktemp("traced-engine")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLGATE_", "MLFLOW_", "OTEL_"))}
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # the engine's span processor exports within 0.1 s
    try:
        sink = OtlpSink(root)
    except SkipService as exc:
        pytest.skip(str(exc))
    try:
        mlserver = start_mlserver(root, env, tracing_server=sink.address).ready()
    except BaseException:
        sink.close()
        raise
    try:
        yield mlserver, sink
    finally:
        stop(mlserver.proc)
        sink.close()


@dataclass
class Traced:
    url: str
    settings: Settings
    sink: OtlpSink
    model: str
    token: str


@pytest.fixture(scope="module")
def traced(
    demo_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    exporter: Any,
    engine: tuple[MLServerEngine, OtlpSink],
) -> Iterator[Traced]:
    """mlgate over HTTP with tracing on and real JWT bearer auth (an RSA-signed token, a JWKS file)."""
    from mlgate import telemetry
    from mlgate.models.registrar import Registrar
    from mlgate.server.app import build_server
    from mlgate.server.http import MCP_PATH, build_http_app
    from mlgate.server.security import auth_layer
    from mlgate.serving.runtime import Runtime

    mlserver, sink = engine
    port = free_port()
    resource = f"http://127.0.0.1:{port}{MCP_PATH}"
    issuer = TestIssuer(audience=resource)
    jwks = issuer.write_jwks(tmp_path_factory.mktemp("jwks") / "jwks.json")
    engine_host = mlserver.url.removeprefix("http://")
    settings = Settings(
        home=demo_home,
        otel=True,
        remote_allowlist=[engine_host],
        warm_aliases=[],
        auth_issuer=ISSUER,
        auth_jwks=str(jwks),
        resource_url=resource,
    )
    model = new_name("traced-remote")
    spec = {"protocol": "v2", "url": mlserver.url, "model": "iris", "timeout_s": 10, "classes": CLASSES}
    Registrar(settings, admit_by="trace test").register_remote(model, spec, IRIS)
    assert telemetry.setup(settings) and telemetry.enabled()
    runtime = Runtime(settings, transport="http")
    server = build_server(runtime)
    wrap = auth_layer(settings, server, MCP_PATH, no_auth=False, host="127.0.0.1", port=port)
    assert wrap is not None, "the JWT settings gave no auth layer"
    app = build_http_app(settings, server, runtime, host="127.0.0.1", port=port, wrap=wrap)
    with LiveServer(app, port=port, lifespan="on"):
        yield Traced(resource, settings, sink, model, issuer.token(ALL))


@contextlib.asynccontextmanager
async def mcp_client(url: str, token: str | None) -> AsyncIterator[Any]:
    """The SDK's client over streamable HTTP, with ``token`` as its bearer token and the SDK's own timeouts
    (30 s, reads 300 s: a first call loads its model)."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


@contextlib.contextmanager
def in_gateway_trace() -> Iterator[None]:
    """The current context as a gateway's ``traceparent`` (TRACE_ID) would leave it: the MCP client's
    own span, and so the ``traceparent`` it puts in the request's ``_meta``, continue that trace."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    parent = SpanContext(TRACE_ID, GATEWAY_SPAN, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with trace.use_span(NonRecordingSpan(parent)):
        yield


def samples(text: str, name: str, **labels: str) -> list[Any]:
    """The samples called ``name`` whose labels include ``labels``, parsed from OpenMetrics ``text``."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    return [
        s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    ]


def exemplars(text: str, name: str, **labels: str) -> list[Any]:
    """The exemplars of those samples."""
    return [s.exemplar for s in samples(text, name, **labels) if s.exemplar is not None]


def engine_server_span(sink: OtlpSink, trace_hex: str, timeout: float = 15) -> dict[str, Any]:
    """The engine's own SERVER span for an inference in trace ``trace_hex``, once it has exported it."""

    def found() -> dict[str, Any] | None:
        for s in sink.spans():
            if s["trace_id"] == trace_hex and s["kind"] == 2 and s["name"].endswith("/infer"):
                return s
        return None

    span: dict[str, Any] = wait_until(
        found,
        timeout,
        every=0.05,
        what=lambda: f"an engine inference span in trace {trace_hex}: {sink.spans()}",
    )
    return span


async def test_one_trace_from_the_client_through_the_engine_to_the_ledger_and_metrics(
    traced: Traced, exporter: Any
) -> None:
    from mlgate.commands.audit import tail_command

    exporter.clear()
    async with mcp_client(traced.url, traced.token) as client:
        with in_gateway_trace():
            err, out = tool_payload(
                await client.call_tool("ml_predict", {"model": f"{traced.model}@1", "features": [IRIS_ROW]})
            )
        assert not err, out
        assert out["predictions"] == [0]  # setosa, answered by MLServer
        err, audit = tool_payload(
            await client.call_tool("ml_audit", {"tool": "ml_predict", "model": traced.model})
        )
    hex_id = format(TRACE_ID, "032x")

    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == TRACE_ID]
    names = {s.name for s in spans}
    # the SDK's SERVER span for the request, continuing the client's traceparent, and mlgate's own under it
    request = next(s for s in spans if s.name == "tools/call ml_predict")
    assert request.kind.name == "SERVER" and request.parent is not None
    assert {"mlgate.resolve", "mlgate.load", "mlgate.guards", "mlgate.model_call"} <= names, names
    for s in spans:
        if s.name.startswith("mlgate."):
            assert request in _ancestors(s, spans), s.name

    # the engine continued that trace: its own server span is a child of mlgate.model_call
    call = next(s for s in spans if s.name == "mlgate.model_call")
    remote = engine_server_span(traced.sink, hex_id)
    assert remote["service"] == "mlserver" and remote["attributes"]["http.target"] == "/v2/models/iris/infer"
    assert remote["parent_span_id"] == format(call.context.span_id, "016x"), (remote, call.context)

    # the ledger row carries it: in ml_audit and in `mlgate audit tail`
    assert not err, audit
    assert audit["rows"][0]["trace_id"] == hex_id
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tail_command(traced.settings, n=200, as_json=True)
    mine = [json.loads(line) for line in printed.getvalue().splitlines() if traced.model in line]
    assert any(r["tool"] == "ml_predict" and r["trace_id"] == hex_id for r in mine), mine
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tail_command(traced.settings, n=200)
    assert hex_id in printed.getvalue()

    # and so does the call's counter and latency bucket, as an exemplar, for a scraper asking for OpenMetrics
    metrics = traced.url.removesuffix("/mcp/ml") + "/metrics"
    auth = {"authorization": f"Bearer {traced.token}"}
    scrape = httpx.get(metrics, headers={**auth, "accept": OPENMETRICS})
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith(
        "application/openmetrics-text"
    )
    mine_ok = {"tool": "ml_predict", "model": traced.model, "outcome": "ok"}
    found = exemplars(scrape.text, "mlgate_tool_calls_total", **mine_ok)
    assert [e.labels for e in found] == [{"trace_id": hex_id}], found
    buckets = exemplars(
        scrape.text, "mlgate_tool_latency_seconds_bucket", tool="ml_predict", model=traced.model
    )
    assert [e.labels for e in buckets] == [{"trace_id": hex_id}], buckets
    classic = httpx.get(metrics, headers=auth)  # Prometheus' classic text format: no exemplars
    assert classic.headers["content-type"].startswith("text/plain") and hex_id not in classic.text


async def test_a_call_outside_any_trace_has_its_own(traced: Traced, exporter: Any) -> None:
    """With tracing on, a call whose client sent no traceparent still gets a trace (its own), on its row."""
    exporter.clear()
    async with mcp_client(traced.url, traced.token) as client:
        err, out = tool_payload(await client.call_tool("ml_model_info", {"model": f"{traced.model}@1"}))
        assert not err, out
        err, audit = tool_payload(
            await client.call_tool("ml_audit", {"tool": "ml_model_info", "model": traced.model})
        )
    request = next(s for s in exporter.get_finished_spans() if s.name == "tools/call ml_model_info")
    assert not err and audit["rows"][0]["trace_id"] == format(request.context.trace_id, "032x")


async def test_without_tracing_the_client_trace_reaches_the_ledger_but_no_exemplar(
    demo_home: Path, tmp_path: Path
) -> None:
    """A server without MLGATE_OTEL (its own process: tracing is process-wide) keeps a client's trace id on
    the ledger row, and records no exemplar: its OpenMetrics scrape has the call's counter, no trace id."""
    port = free_port()
    env = mlgate_env(demo_home, MLGATE_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    env.pop("MLGATE_OTEL", None)
    proc = spawn_server(["--http", "--port", str(port)], env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc)
        async with mcp_client(f"{base}/mcp/ml", None) as client:
            with in_gateway_trace():
                err, out = tool_payload(
                    await client.call_tool(
                        "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]}
                    )
                )
            assert not err, out
            err, audit = tool_payload(await client.call_tool("ml_audit", {"tool": "ml_predict"}))
        assert not err and audit["rows"][0]["trace_id"] == format(TRACE_ID, "032x"), audit
        scrape = httpx.get(f"{base}/metrics", headers={"accept": OPENMETRICS})
        assert scrape.headers["content-type"].startswith("application/openmetrics-text")
        calls = samples(scrape.text, "mlgate_tool_calls_total", tool="ml_predict", model="demo-regressor")
        assert [(c.value, c.exemplar) for c in calls] == [(1.0, None)], calls
        assert "trace_id" not in scrape.text and " # {" not in scrape.text
    finally:
        proc.terminate()
        proc.wait(15)


def _ancestors(span: Any, spans: list[Any]) -> list[Any]:
    by_id = {s.context.span_id: s for s in spans}
    out = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        out.append(span)
    return out
