"""The one ASGI app of a service: REST API, health, metrics, docs, and the messaging lifecycle.

`ServiceRuntime` is built once by a service's bootstrap. Its lifespan migrates the database,
connects to NATS, binds the service's consumers and runs the outbox relay; routes reach it through
`RuntimeDep`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import swagger_ui_bundle
from echo_contracts import Envelope, Event, consumer_for, new_envelope, stream_name
from echo_contracts.export import asyncapi_document
from echo_contracts.topology import DLQ_STREAM, NETWORK_STREAM, ConsumerSpec
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from faststream.nats import NatsBroker, NatsUserPassword
from nats.js import JetStreamContext
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from echo_runtime.auth import TokenVerifier, refuse_read_only_writes
from echo_runtime.consumer import EventConsumer, Handler, binding
from echo_runtime.database import Database, check_schema, migrate
from echo_runtime.limits import BodyLimitMiddleware, RateLimitMiddleware, rate_rules
from echo_runtime.logging import IN_REQUEST, configure_logging, get_logger, unbind_event
from echo_runtime.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_PENDING,
    DLQ_MESSAGES,
    HTTP_DURATION,
    HTTP_REQUESTS,
    NATS_CONNECTED,
    SOURCE_ACTIVE,
    SOURCE_LAG,
    TARGET_INFO,
)
from echo_runtime.outbox import Outbox, OutboxRelay
from echo_runtime.problems import DomainErrorMap, Problem, install_problem_handlers
from echo_runtime.settings import Environment, ServiceSettings
from echo_runtime.tracing import configure_tracing, instrument_engine, resource_attributes

log = get_logger(__name__)
access_log = get_logger("echo.access")


_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})


class ServiceRuntime:
    """Everything a service's entry points need: settings, database, outbox, broker, verifier."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        metadata: sa.MetaData | None,
        migrations: Path | None,
        handlers: Mapping[type[Event], Handler] | None = None,
        routers: Sequence[APIRouter] = (),
        domain_errors: DomainErrorMap | None = None,
        background: Sequence[Callable[[ServiceRuntime], Any]] = (),
        title: str | None = None,
        consumer: ConsumerSpec | None = None,
    ) -> None:
        self.settings = settings
        self.metadata = metadata
        self.migrations = migrations
        self.handlers = dict(handlers or {})
        self.routers = routers
        self.domain_errors = domain_errors
        self.background = background
        self.title = title or f"ECHO {settings.service}"
        self.consumer_spec = consumer
        # A service without `metadata` (the console) owns no data: no database, no outbox.
        self._db = (
            None
            if metadata is None
            else Database(
                settings.database_url,
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_max_overflow,
            )
        )
        self._outbox = None if metadata is None else Outbox(metadata.tables["outbox"])
        self.verifier = TokenVerifier(
            audience=settings.auth_audience,
            issuer=settings.auth_issuer,
            dev_secret=settings.auth_dev_secret,
            jwks_url=settings.auth_jwks_url,
            jwks_json=settings.auth_jwks_json,
            accept_dev_tokens=settings.environment is not Environment.PRODUCTION,
        )
        self.broker: NatsBroker | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        self._consumer_tasks: list[asyncio.Task[Any]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._metrics_server: Any = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError(f"{self.settings.service} has no database")
        return self._db

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError(f"{self.settings.service} has no outbox")
        return self._outbox

    # ------------------------------------------------------------------ events

    def envelope(
        self,
        data: Event,
        region: str,
        *,
        cause: Envelope[Any] | None = None,
        correlation_id: uuid.UUID | None = None,
    ) -> Envelope[Event]:
        """An envelope from this service; caused by `cause` when reacting to an event."""
        return new_envelope(
            data,
            region=region,
            service=self.settings.service,
            correlation_id=cause.correlation_id if cause else correlation_id,
            causation_id=cause.id if cause else None,
        )

    async def emit(
        self,
        session: AsyncSession,
        region: str,
        *events: Event,
        cause: Envelope[Any] | None = None,
    ) -> list[Envelope[Event]]:
        """Stage events in the outbox inside the caller's transaction (one correlation id)."""
        correlation_id = uuid.uuid4()
        envelopes = [
            self.envelope(e, region, cause=cause, correlation_id=correlation_id) for e in events
        ]
        await self.outbox.add(session, envelopes)
        return envelopes

    @property
    def js(self) -> JetStreamContext:
        if self.broker is None or self.broker._connection is None:
            raise RuntimeError("messaging is not started")
        return self.broker._connection.jetstream()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        settings = self.settings
        configure_logging(settings.service, settings.regions, settings.log_level)
        provider = configure_tracing(
            settings.service, regions=settings.regions, environment=settings.environment.value
        )
        self._publish_target_info()
        self._serve_metrics()
        if self._db is None or self.metadata is None or self.migrations is None:
            return
        instrument_engine(self._db.engine.sync_engine, provider)
        if self.settings.migrates_at_start:
            await migrate(self._db, self.migrations)
        else:
            await check_schema(self._db, self.migrations, self.settings.service)
        if not self.settings.messaging:
            return
        security = (
            NatsUserPassword(self.settings.nats_user, self.settings.nats_password or "")
            if self.settings.nats_user
            else None
        )
        broker = NatsBroker(
            self.settings.nats_url,
            security=security,
            user_credentials=self.settings.nats_creds,
            name=f"echo-{self.settings.service}",
            ping_interval=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            logger=None,
        )
        await broker.start()
        self.broker = broker
        if self.handlers:
            self.consumer = EventConsumer(
                self.consumer_spec or consumer_for(self.settings.service),
                self.db,
                self.metadata.tables["inbox"],
                self.handlers,
            )
            for region in self.settings.regions:
                self._consumer_tasks.append(
                    asyncio.create_task(
                        self.consumer.run(
                            self.js,
                            region,
                            batch_size=self.settings.consumer_batch_size,
                            network_view=self.settings.network_view,
                        ),
                        name=f"consumer-{region}",
                    )
                )
        self.relay = OutboxRelay(
            self.db,
            self.metadata.tables["outbox"],
            self.js,
            batch_size=self.settings.relay_batch_size,
            poll_interval=self.settings.relay_poll_interval,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        self._tasks.append(asyncio.create_task(self._monitor(), name="monitor"))
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(self), name=getattr(job, "__name__", "job")))
        log.info("service_started", regions=self.settings.regions)

    def _publish_target_info(self) -> None:
        attributes = resource_attributes(
            self.settings.service,
            regions=self.settings.regions,
            environment=self.settings.environment.value,
        )
        TARGET_INFO.labels(
            attributes["service.name"],
            attributes["service.namespace"],
            attributes["deployment.environment"],
            attributes.get("echo.regions", ""),
        ).set(1)

    def _serve_metrics(self) -> None:
        """Metrics on their own port when `METRICS_PORT` is set (not on the public one)."""
        port = self.settings.metrics_port
        if port is None or self._metrics_server is not None:
            return
        host = self.settings.metrics_host or self.settings.host
        try:
            self._metrics_server, _ = start_http_server(port, addr=host)
        except OSError as exc:  # e.g. a second `--workers` process: the first one serves it
            log.warning("metrics_port_unavailable", port=port, error=type(exc).__name__)
            return
        log.info("metrics_served", port=port, host=host)

    async def _monitor(self, interval: float = 5.0) -> None:
        """Keep the consumer, source-lag, DLQ, NATS and outbox gauges fresh for scrapes.

        Each reading is separate: a user without the right to read one stream (a regional
        hub's service cannot see the DLQ of the superhub) still gets the others.
        """
        while True:
            conn = self.broker._connection if self.broker else None
            NATS_CONNECTED.set(1 if conn is not None and conn.is_connected else 0)
            for reading in (self._read_consumers, self._read_sources, self._read_dlq):
                try:
                    await asyncio.wait_for(reading(), interval)
                except Exception as exc:  # a gauge must never take the service down
                    log.debug("monitor_failed", reading=reading.__name__, error=type(exc).__name__)
            if self.relay is not None:
                try:
                    await self.relay.backlog()
                except Exception as exc:
                    log.debug("monitor_failed", reading="outbox", error=type(exc).__name__)
            await asyncio.sleep(interval)

    def _spec(self) -> ConsumerSpec | None:
        if self.consumer_spec is not None:
            return self.consumer_spec
        return consumer_for(self.settings.service) if self.handlers else None

    async def _read_consumers(self) -> None:
        spec = self._spec()
        if spec is None:
            return
        for region in self.settings.regions:
            where = binding(spec, region, network_view=self.settings.network_view)
            info = await self.js.consumer_info(where.stream, where.durable)
            CONSUMER_PENDING.labels(where.durable, where.stream, region).set(info.num_pending)
            CONSUMER_ACK_PENDING.labels(where.durable, where.stream, region).set(
                info.num_ack_pending
            )

    async def _read_sources(self) -> None:
        """Source lag of the streams this process reads (and ECHO_NETWORK where it may)."""
        spec = self._spec()
        streams: dict[str, str | None] = {}
        for served_region in self.settings.regions:
            if spec is not None:
                where = binding(spec, served_region, network_view=self.settings.network_view)
                streams.setdefault(
                    where.stream, None if where.stream == NETWORK_STREAM else served_region
                )
        streams.setdefault(NETWORK_STREAM, None)
        served = {stream_name(r): r for r in self.settings.regions}
        for stream, region in streams.items():
            try:
                info = await self.js.stream_info(stream)
            except Exception as exc:  # not provisioned here, or not ours to read
                log.debug("stream_unreadable", stream=stream, error=type(exc).__name__)
                continue
            for source in info.sources or []:
                name = source.name or ""
                # ECHO_NETWORK: one source per region; a region's stream: ECHO_SUPERHUB.
                label = served.get(name) if region is None else region
                if label is None:
                    continue
                SOURCE_LAG.labels(stream, name, label).set(source.lag or 0)
                SOURCE_ACTIVE.labels(stream, name, label).set(
                    (source.active or 0) / 1e9 if (source.active or 0) >= 0 else -1.0
                )

    async def _read_dlq(self) -> None:
        DLQ_MESSAGES.labels(DLQ_STREAM).set((await self.js.stream_info(DLQ_STREAM)).state.messages)

    async def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()  # each loop finishes the batch in hand
            _, late = await asyncio.wait(self._consumer_tasks, timeout=10)
            for task in late:
                task.cancel()
            self._consumer_tasks.clear()
            self.consumer = None
        if self.relay is not None:
            self.relay.stop()
        for task in self._tasks:
            if task.get_name() != "outbox-relay":  # the relay finishes its batch and stops
                task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.broker is not None:
            await self.broker.stop()
            self.broker = None
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None
        if self._db is not None:
            await self._db.dispose()

    async def ready(self) -> dict[str, str]:
        """Check the database and NATS; raise a 503 problem naming what is down."""
        checks: dict[str, str] = {}
        if self._db is not None:
            try:
                await asyncio.wait_for(self._db.ping(), 2)
                checks["database"] = "ok"
            except Exception as exc:
                checks["database"] = f"down: {type(exc).__name__}"
        if self.settings.messaging and self._db is not None:
            conn = self.broker._connection if self.broker else None
            checks["nats"] = "ok" if conn is not None and conn.is_connected else "down"
        if any(v != "ok" for v in checks.values()):
            raise Problem(503, "Service Unavailable", f"not ready: {checks}", checks=checks)
        return checks

    # ------------------------------------------------------------------ ASGI

    def create_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(
            title=self.title,
            version="1.0.0",
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            # Server spans from FastAPI itself; no log records (they could quote request bodies),
            # no spans for probes and scrapes.
            telemetry={
                "logs": False,
                "operation_spans": False,
                "auto_configure": False,
                "exclude": lambda scope: scope.get("path") in _UNTRACED,
            },
        )
        app.state.runtime = self
        app.state.verifier = self.verifier
        document_problems(app)
        install_problem_handlers(app, self.domain_errors)
        app.mount(
            "/static/swagger",
            StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
            name="swagger",
        )

        @app.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json",
                title=f"{self.title} API",
                swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                swagger_css_url="/static/swagger/swagger-ui.css",
                swagger_favicon_url="/static/swagger/favicon-32x32.png",
            )

        @app.get("/healthz", tags=["ops"])
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": self.settings.service}

        @app.get("/readyz", tags=["ops"])
        async def readyz() -> dict[str, str]:
            return await self.ready()

        if self.settings.metrics_port is None:
            # Development: on the public port. With METRICS_PORT set, only there (issue 15:
            # the public port answers 404 and metrics never pass an ingress).
            @app.get("/metrics", tags=["ops"], response_class=Response)
            async def metrics() -> Response:
                # Gauges (outbox backlog, lag, DLQ) are refreshed by `_monitor`, not per scrape.
                return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        @app.get("/asyncapi.json", tags=["ops"])
        async def asyncapi_json() -> JSONResponse:
            return JSONResponse(asyncapi_document())

        @app.get("/asyncapi", tags=["ops"], response_class=HTMLResponse)
        async def asyncapi_page() -> HTMLResponse:
            return HTMLResponse(render_asyncapi_page(self.title))

        for router in self.routers:
            # authorization that needs no resource runs before any body is validated
            app.include_router(router, dependencies=[Depends(refuse_read_only_writes)])
        app.add_middleware(BodyLimitMiddleware, max_bytes=self.settings.max_body_bytes)
        if self.settings.rate_limits:
            app.add_middleware(
                RateLimitMiddleware,
                rules=rate_rules(
                    self.settings.rate_limit_per_minute,
                    self.settings.webhook_rate_limit_per_minute,
                ),
                verifier=self.verifier,
            )
        app.add_middleware(RequestMetricsMiddleware)
        return app

    def asgi(self) -> ASGIApp:
        """The ASGI app to serve (FastAPI's own telemetry makes one server span per request)."""
        return self.create_app()


def render_asyncapi_page(title: str) -> str:
    """A self-contained HTML page listing every event channel (no asset from the internet)."""
    doc = asyncapi_document()
    rows = []
    for key, message in doc["components"]["messages"].items():
        address = doc["channels"][key]["address"]
        rows.append(
            f"<tr><td><code>{address}</code></td><td><code>{message['name']}</code></td>"
            f"<td>{message['x-echo-residency']}</td><td>{message['summary']}</td></tr>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{title} events</title><style>body{{font-family:sans-serif;margin:2em}}"
        "td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}</style></head>"
        f"<body><h1>{title}: events (AsyncAPI 3.0)</h1>"
        "<p>Machine-readable: <a href='/asyncapi.json'>/asyncapi.json</a></p>"
        "<table><tr><th>subject</th><th>type</th><th>residency</th><th>meaning</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; 422s list each invalid field under `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def document_problems(app: FastAPI) -> None:
    """Document every error answer as what it is: `application/problem+json` (not FastAPI's
    default 422 `HTTPValidationError`), for every status an operation does not document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem = {
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                content: dict[str, Any] = dict(problem["content"])
                if any("text/html" in r.get("content", {}) for r in responses.values()):
                    # a page for browsers may answer its errors as a page too
                    content["text/html"] = {"schema": {"type": "string"}}
                if "422" in responses:
                    responses["422"] = {"description": "Invalid input", "content": content}
                responses.setdefault("default", {"description": "An error", "content": content})
        _local_times(schema)
        schemas = schema["components"]["schemas"]
        for name in ("HTTPValidationError", "ValidationError"):
            removed = schemas.pop(name, None)
            if removed is not None and f"#/components/schemas/{name}" in json.dumps(schema):
                schemas[name] = removed  # still referenced elsewhere
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


#: What a naive `datetime.time` is served as: a wall-clock time with no offset.
LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"


def _local_times(node: Any) -> None:
    # Pydantic documents `time` fields as JSON Schema `format: time`, which (RFC 3339) requires
    # an offset; ours are local wall-clock times ("18:30:00") and are served without one.
    if isinstance(node, dict):
        if node.get("format") == "time" and node.get("type") == "string":
            del node["format"]
            node["pattern"] = LOCAL_TIME
            node.setdefault("description", "local wall-clock time, HH:MM[:SS], no offset")
        for value in node.values():
            _local_times(value)
    elif isinstance(node, list):
        for value in node:
            _local_times(value)


class RequestMetricsMiddleware:
    """Per request: the duration histogram, the request counter and one JSON access-log line.

    The access line carries the route template (never the path: ids in paths are not for
    logs), status, duration in ms and the trace id of the server span; plus the region and
    event id when the request staged an event.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        trace_ids: dict[str, str] = {}
        started = time.perf_counter()
        in_request = IN_REQUEST.set(True)

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                # Sent from inside the app: the server span is the current one here.
                ctx = trace.get_current_span().get_span_context()
                if ctx.is_valid:
                    trace_ids["trace_id"] = format(ctx.trace_id, "032x")
                    trace_ids["span_id"] = format(ctx.span_id, "016x")
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method, code = scope["method"], str(status["code"])
            HTTP_REQUESTS.labels(method, route, code).inc()
            HTTP_DURATION.labels(method, route, code).observe(seconds)
            if scope.get("path") not in _UNTRACED:
                access_log.info(
                    "http_request",
                    method=method,
                    route=route,
                    status=status["code"],
                    duration_ms=round(seconds * 1000, 2),
                    **trace_ids,
                )
            unbind_event()
            IN_REQUEST.reset(in_request)


async def get_runtime(request: Request) -> ServiceRuntime:
    # async: FastAPI runs a sync dependency in a worker thread, a hop on every request.
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
