"""Prometheus metrics every service exposes (on `<SVC>_METRICS_PORT`, or at `/metrics`).

Names follow Prometheus conventions (base units, `_total` counters, `_seconds`, `_messages`);
the HTTP histogram is OpenTelemetry's `http.server.request.duration` with its attribute names.
Every event-level series carries the event's `region` (from the envelope); the regions a process
serves, its service, namespace and environment are on `target_info` (OpenTelemetry's resource
attributes as Prometheus sees them), which dashboards join on `job`/`instance`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: Seconds: 5 ms to 10 s, the range an API request's latency SLO is judged in.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
#: Seconds from an event's `time` to its handling: sub-second when healthy, hours after an outage.
AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)

TARGET_INFO = Gauge(
    "target_info",
    "Resource attributes of this process (OpenTelemetry target info)",
    ["service_name", "service_namespace", "deployment_environment", "echo_regions"],
)
HTTP_REQUESTS = Counter("echo_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests, by route template and status",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=HTTP_BUCKETS,
)
EVENTS_HANDLED = Counter(
    "echo_events_handled_total",
    "Events handled by consumers",
    ["consumer", "type", "outcome", "region"],
)
EVENT_AGE = Histogram(
    "echo_event_age_seconds",
    "Time from an event's time (envelope) to its handling by a consumer",
    ["consumer", "region"],
    buckets=AGE_BUCKETS,
)
HANDLER_LATENCY = Histogram(
    "echo_event_batch_seconds", "Time to handle one batch of events", ["consumer"]
)
CONSUMER_PENDING = Gauge(
    "echo_consumer_pending_messages",
    "Messages in the stream matching the consumer's filter and not yet delivered to it",
    ["consumer", "stream", "region"],
)
CONSUMER_ACK_PENDING = Gauge(
    "echo_consumer_ack_pending_messages",
    "Messages delivered to the consumer and not yet acknowledged",
    ["consumer", "stream", "region"],
)
OUTBOX_BACKLOG = Gauge("echo_outbox_backlog_messages", "Outbox rows waiting to be published")
OUTBOX_OLDEST_AGE = Gauge(
    "echo_outbox_oldest_age_seconds",
    "Age of the oldest outbox row waiting to be published (0 when none waits)",
)
OUTBOX_PUBLISHED = Counter("echo_outbox_published_total", "Outbox rows published and acked")
OUTBOX_PUBLISH_ERRORS = Counter(
    "echo_outbox_publish_errors_total",
    "Relay rounds that failed (no ack, NATS or database down); the rows are published again",
)
DLQ_MESSAGES = Gauge("echo_dlq_messages", "Dead-letter advisories in the DLQ stream", ["stream"])
SOURCE_LAG = Gauge(
    "echo_stream_source_lag_messages",
    "Messages a sourced stream has not yet copied from its source (NATS stream source lag)",
    ["stream", "source", "region"],
)
SOURCE_ACTIVE = Gauge(
    "echo_stream_source_last_active_seconds",
    "Seconds since the sourced stream last heard from its source",
    ["stream", "source", "region"],
)
NATS_CONNECTED = Gauge(
    "echo_nats_connected", "1 while the process's NATS connection is up, 0 while it is not"
)
