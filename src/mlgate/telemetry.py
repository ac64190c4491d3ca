"""OpenTelemetry traces: off unless ``MLGATE_OTEL`` is set, then one trace per call across the stack.

The MCP SDK's ``OpenTelemetryMiddleware`` (on in every ``MCPServer``) opens a SERVER span per MCP
request and continues a ``traceparent`` the client put in the request's ``_meta``; it records nothing
until a tracer provider is installed. ``setup`` installs one — the SDK's, exporting over OTLP as the
standard ``OTEL_EXPORTER_OTLP_*`` / ``OTEL_SERVICE_NAME`` variables say — unless the process already
has one (an embedding application, a test's in-memory exporter). ``opentelemetry-sdk`` and the
exporter come with the ``otel`` extra and are imported only here, only when enabled.

Below the request span mlgate opens ``mlgate.resolve``, ``mlgate.load``, ``mlgate.guards``,
``mlgate.batch_wait``, ``mlgate.model_call`` and ``mlgate.ledger_commit``; a remote engine receives
the ``traceparent`` of its call (adapters/remote.py), and every ledger row keeps the trace id of
its call (``trace_id``: in ``mlgate audit tail`` and ``ml_audit``), and so does the exemplar on the
call's Prometheus counter and latency bucket (serving/metrics.py). With tracing off, ``span`` is a
no-op; a trace id a client sent is still kept on the ledger row.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, MutableMapping
from typing import Any

from mlgate.config import Settings
from mlgate.errors import ConfigError

log = logging.getLogger(__name__)

_enabled = False
_tracer: Any = None


def setup(settings: Settings) -> bool:
    """Turn tracing on when ``settings.otel``; True when spans are recorded from now on."""
    global _enabled, _tracer
    if not settings.otel:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"MLGATE_OTEL needs the OpenTelemetry SDK ({exc.name} is missing): pip install 'mlgate[otel]'"
        ) from exc
    if not isinstance(trace.get_tracer_provider(), TracerProvider):  # nobody installed one: ours
        provider = TracerProvider(
            resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "mlgate")})
        )
        provider.add_span_processor(BatchSpanProcessor(_exporter()))
        trace.set_tracer_provider(provider)
        log.info("OpenTelemetry traces on: OTLP to %s", _endpoint())
    _tracer = trace.get_tracer("mlgate")
    _enabled = True
    return True


def _exporter() -> Any:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:  # http/protobuf, the default
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"MLGATE_OTEL exports over OTLP ({protocol or 'http/protobuf'}); {exc.name} is missing: "
            "pip install 'mlgate[otel]' (for grpc also opentelemetry-exporter-otlp-proto-grpc)"
        ) from exc
    return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* itself (endpoint, headers, timeout, TLS)


def _endpoint() -> str:
    return os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "the exporter's default endpoint"),
    )


def enabled() -> bool:
    return _enabled


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A child span of the current one while tracing is on; nothing otherwise."""
    if not _enabled:
        yield None
        return
    with _tracer.start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None}
    ) as current:
        yield current


def trace_id() -> str | None:
    """The current trace id (32 hex digits), when a call is in a trace: traced here, or continued
    from a client's ``traceparent``."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """``headers`` with the current ``traceparent`` (and ``tracestate``), for a call leaving mlgate."""
    if trace_id() is not None:
        from opentelemetry.propagate import inject as _inject

        _inject(headers)
    return headers
