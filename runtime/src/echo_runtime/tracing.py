"""OpenTelemetry set-up: the exporter is chosen by the standard `OTEL_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_configured: dict[str, TracerProvider] = {}


def configure_tracing(
    service: str, *, extra_processor: SpanProcessor | None = None
) -> TracerProvider:
    """Install one tracer provider per process; OTLP when `OTEL_EXPORTER_OTLP_*` is set.

    `OTEL_TRACES_EXPORTER=console` prints spans, `none` (or unset without an endpoint) keeps them
    in-process only. Tests pass an in-memory processor.
    """
    if "provider" in _configured:
        provider = _configured["provider"]
        if extra_processor is not None:
            provider.add_span_processor(extra_processor)
        return provider
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", f"echo-{service}")}
    )
    provider = TracerProvider(resource=resource)
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "").lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if exporter_name == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter_name not in ("none",) and (endpoint or exporter_name == "otlp"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    _configured["provider"] = provider
    return provider


def instrument_engine(engine: Any, provider: TracerProvider) -> None:
    """Trace every statement of a SQLAlchemy engine (the async engine's sync core).

    The packaged instrumentor refuses SQLAlchemy 2.1 by version check only; its engine tracer works.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("echo.db").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer("echo.db", tracer_provider=provider), engine, usage)  # type: ignore[no-untyped-call]


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to store on an outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def inject_headers(headers: MutableMapping[str, str]) -> None:
    """Write the current trace context into message headers."""
    propagate.inject(headers)


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by message headers (empty context when none)."""
    return propagate.extract(dict(headers or {}))
