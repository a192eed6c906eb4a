"""OpenTelemetry set-up: the exporter is chosen by the standard `OTEL_*` variables.

Spans cost CPU on every request, statement and message even when nobody collects them, so a
process records spans only while something consumes them (an exporter, or a processor a test
adds). Unrecorded spans still get trace and span ids, so the `traceparent` on outbox rows and
message headers and the ids in log lines work either way.

Statement spans (one per SQL statement) are the costliest: they are made only inside a recorded
trace (`OTEL_TRACES_SAMPLER` chooses which, e.g. `parentbased_traceidratio` with
`OTEL_TRACES_SAMPLER_ARG=0.01`), and `OTEL_ECHO_SQL_SPANS=off` turns them off altogether.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, SpanKind, StatusCode
from opentelemetry.util.types import Attributes
from sqlalchemy import event

_configured: dict[str, TracerProvider] = {}

SQL_SPANS_ENV = "OTEL_ECHO_SQL_SPANS"


class RecordWhenCollected(Sampler):
    """The configured sampler while spans are collected; drop every span otherwise.

    A dropped span is a `NonRecordingSpan` with fresh ids: propagation and log correlation keep
    working, and nothing is built, ended or queued.
    """

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.collecting = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if not self.collecting:
            return SamplingResult(Decision.DROP)
        return self.sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RecordWhenCollected{{{self.sampler.get_description()}}}"


def resource_attributes(
    service: str, *, regions: Sequence[str] = (), environment: str = "development"
) -> dict[str, str]:
    """The resource attributes of a service's process: who, which deployment, which regions.

    `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (set by compose and Kubernetes) win
    over these defaults, as the OpenTelemetry specification says they should.
    """
    attributes = {
        "service.name": f"echo-{service}",
        "service.namespace": "echo",
        "deployment.environment": environment,
    }
    if regions:
        attributes["echo.regions"] = ",".join(regions)
    for pair in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = unquote(value.strip())  # values are %-encoded
    if os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = os.environ["OTEL_SERVICE_NAME"]
    return attributes


def configure_tracing(
    service: str,
    *,
    extra_processor: SpanProcessor | None = None,
    regions: Sequence[str] = (),
    environment: str = "development",
) -> TracerProvider:
    """Install one tracer provider per process; OTLP when `OTEL_EXPORTER_OTLP_*` is set.

    `OTEL_TRACES_EXPORTER=console` prints spans, `none` (or unset without an endpoint) records
    nothing (ids are still made and propagated). Tests pass an in-memory processor.
    """
    if "provider" in _configured:
        provider = _configured["provider"]
        if extra_processor is not None:
            provider.add_span_processor(extra_processor)
            _sampler(provider).collecting = True
        return provider
    resource = Resource.create(
        resource_attributes(service, regions=regions, environment=environment)
    )
    sampler = RecordWhenCollected(_get_from_env_or_default())
    provider = TracerProvider(resource=resource, sampler=sampler)
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "").lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if exporter_name == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        sampler.collecting = True
    elif exporter_name not in ("none",) and (endpoint or exporter_name == "otlp"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        sampler.collecting = True
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
        sampler.collecting = True
    trace.set_tracer_provider(provider)
    _configured["provider"] = provider
    return provider


def spans_collected() -> bool:
    """Whether this process records spans at all (an exporter or a processor is attached)."""
    provider = _configured.get("provider")
    return provider is not None and _sampler(provider).collecting


def _sampler(provider: TracerProvider) -> RecordWhenCollected:
    sampler = provider.sampler
    assert isinstance(sampler, RecordWhenCollected), "configure_tracing built this provider"
    return sampler


def sql_spans_enabled() -> bool:
    """Whether statement spans may be made (`OTEL_ECHO_SQL_SPANS=off` turns them off)."""
    return os.environ.get(SQL_SPANS_ENV, "sampled").strip().lower() not in ("off", "false", "0")


def instrument_engine(engine: Any, provider: TracerProvider) -> None:
    """Trace the statements of a SQLAlchemy engine (the async engine's sync core).

    A statement gets a span only when the current span is recorded, so an unsampled request or
    a process with no exporter pays one check per statement and nothing else.
    """
    if not sql_spans_enabled() or getattr(engine, "_echo_sql_spans", False):
        return
    engine._echo_sql_spans = True
    tracer = trace.get_tracer("echo.db", tracer_provider=provider)
    system = engine.dialect.name
    database = engine.url.database or ""

    @event.listens_for(engine, "before_cursor_execute")
    def _start(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        if context is None or not trace.get_current_span().is_recording():
            return
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        context._echo_span = tracer.start_span(
            f"{verb} {database}".strip(),
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": system,
                "db.name": database,
                # The statement text with placeholders; parameters (case text, names) never.
                "db.statement": statement,
            },
        )

    @event.listens_for(engine, "after_cursor_execute")
    def _end(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        span = getattr(context, "_echo_span", None)
        if span is not None:
            span.end()
            context._echo_span = None

    @event.listens_for(engine, "handle_error")
    def _failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, "_echo_span", None) if context is not None else None
        if span is not None:
            span.set_status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            span.end()
            context._echo_span = None


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


def is_sampled(traceparent: str | None) -> bool:
    """Whether a W3C `traceparent` says its trace is recorded (flags `01`)."""
    if not traceparent or len(traceparent) < 2:
        return False
    try:
        return bool(int(traceparent[-2:], 16) & 1)
    except ValueError:
        return False
