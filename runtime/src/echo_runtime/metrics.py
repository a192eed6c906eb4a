"""Prometheus metrics every service exposes at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("echo_http_requests_total", "HTTP requests", ["method", "route", "status"])
EVENTS_HANDLED = Counter(
    "echo_events_handled_total", "Events handled by consumers", ["consumer", "type", "outcome"]
)
HANDLER_LATENCY = Histogram(
    "echo_event_batch_seconds", "Time to handle one batch of events", ["consumer"]
)
CONSUMER_LAG = Gauge(
    "echo_consumer_pending", "Messages not yet delivered to a consumer", ["consumer", "stream"]
)
OUTBOX_BACKLOG = Gauge("echo_outbox_backlog", "Outbox rows waiting to be published")
OUTBOX_PUBLISHED = Counter("echo_outbox_published_total", "Outbox rows published")
DLQ_SIZE = Gauge("echo_dlq_size", "Dead-letter advisories in the DLQ stream")
