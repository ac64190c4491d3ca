"""OpenTelemetry end to end, with the SDK's in-memory exporter: one ml_predict over real HTTP whose
client sits in a trace (a gateway's ``traceparent``) yields mlgate's spans under that trace, the remote
engine (a stand-in speaking MLflow's scoring protocol on 127.0.0.1) receives the same trace id, and
the ledger row carries it (ml_audit, ``mlgate audit tail``). The server runs in this process (uvicorn
in a thread) so its spans land in this process's exporter."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import Settings
from tests._support import free_port, tool_payload
from tests.auth.conftest import LiveServer
from tests.lifecycle.conftest import new_name

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is in the dev extra")
pytestmark = pytest.mark.anyio
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
GATEWAY_SPAN = 0x00F067AA0BA902B7


class Engine:
    """MLflow scoring (``POST /invocations``) answering the sum of each row; keeps each request's headers."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                engine.headers.append({k.lower(): v for k, v in self.headers.items()})
                rows = body["dataframe_split"]["data"]
                out = json.dumps({"predictions": [sum(r) for r in rows]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


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
def traced(demo_home: Path, exporter: Any) -> Iterator[tuple[str, Settings, Engine, str]]:
    from mlgate import telemetry
    from mlgate.models.registrar import Registrar
    from mlgate.server.app import build_server
    from mlgate.server.http import build_http_app
    from mlgate.serving.runtime import Runtime

    engine = Engine()
    settings = Settings(
        home=demo_home, otel=True, remote_allowlist=[f"127.0.0.1:{engine.port}"], warm_aliases=[]
    )
    model = new_name("traced-remote")
    Registrar(settings, admit_by="trace test").register_remote(
        model, {"protocol": "mlflow", "url": f"http://127.0.0.1:{engine.port}", "timeout_s": 5}, IRIS
    )
    assert telemetry.setup(settings) and telemetry.enabled()
    runtime = Runtime(settings, transport="http")
    server = build_server(runtime)
    port = free_port()
    app = build_http_app(settings, server, runtime, host="127.0.0.1", port=port)
    with LiveServer(app, port=port, lifespan="on") as live:
        try:
            yield f"{live.url}/mcp/ml", settings, engine, model
        finally:
            engine.http.shutdown()


@contextlib.contextmanager
def in_gateway_trace() -> Iterator[None]:
    """The current context as a gateway's ``traceparent`` (TRACE_ID) would leave it: the MCP client's
    own span, and so the ``traceparent`` it puts in the request's ``_meta``, continue that trace."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    parent = SpanContext(TRACE_ID, GATEWAY_SPAN, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with trace.use_span(NonRecordingSpan(parent)):
        yield


async def test_one_trace_from_the_client_through_the_engine_to_the_ledger(
    traced: tuple[str, Settings, Engine, str], exporter: Any
) -> None:
    from mcp import Client

    from mlgate.commands.audit import tail_command

    url, settings, engine, model = traced
    rows = [dict(zip(IRIS, [5.1, 3.5, 1.4, 0.2], strict=True))]
    exporter.clear()
    async with Client(url) as client:
        with in_gateway_trace():
            err, out = tool_payload(
                await client.call_tool("ml_predict", {"model": f"{model}@1", "features": rows})
            )
        assert not err, out
        assert out["predictions"] == [pytest.approx(10.2)]
        err, audit = tool_payload(await client.call_tool("ml_audit", {"tool": "ml_predict", "model": model}))
    hex_id = format(TRACE_ID, "032x")

    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == TRACE_ID]
    names = {s.name for s in spans}
    # the SDK's SERVER span for the request, continuing the client's traceparent, and mlgate's own under it
    request = next(s for s in spans if s.name == "tools/call ml_predict")
    assert request.kind.name == "SERVER" and request.parent is not None
    assert {"mlgate.resolve", "mlgate.load", "mlgate.guards", "mlgate.model_call"} <= names, names
    for s in spans:
        if s.name.startswith("mlgate."):
            assert _ancestors(s, spans)[-1] is not None and request in _ancestors(s, spans), s.name

    # the engine was called inside that trace
    sent = [h["traceparent"] for h in engine.headers if "traceparent" in h]
    assert sent and sent[-1].split("-")[1] == hex_id, engine.headers

    # the ledger row carries it: in ml_audit and in `mlgate audit tail`
    assert not err, audit
    assert audit["rows"][0]["trace_id"] == hex_id
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tail_command(settings, n=200, as_json=True)
    mine = [json.loads(line) for line in printed.getvalue().splitlines() if model in line]
    assert any(r["tool"] == "ml_predict" and r["trace_id"] == hex_id for r in mine), mine
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tail_command(settings, n=200)
    assert hex_id in printed.getvalue()


async def test_a_call_outside_any_trace_has_its_own(
    traced: tuple[str, Settings, Engine, str], exporter: Any
) -> None:
    """With tracing on, a call whose client sent no traceparent still gets a trace (its own), on its row."""
    from mcp import Client

    url, _, _, model = traced
    exporter.clear()
    async with Client(url) as client:
        err, out = tool_payload(await client.call_tool("ml_model_info", {"model": f"{model}@1"}))
        assert not err, out
        err, audit = tool_payload(
            await client.call_tool("ml_audit", {"tool": "ml_model_info", "model": model})
        )
    request = next(s for s in exporter.get_finished_spans() if s.name == "tools/call ml_model_info")
    assert not err and audit["rows"][0]["trace_id"] == format(request.context.trace_id, "032x")


def _ancestors(span: Any, spans: list[Any]) -> list[Any]:
    by_id = {s.context.span_id: s for s in spans}
    out = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        out.append(span)
    return out or [None]
