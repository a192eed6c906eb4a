"""Prometheus metrics of the notifications service (served by the runtime at `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERY_OUTCOMES = Counter(
    "echo_notifications_deliveries_total",
    "Delivery attempts by channel, template and outcome (sent, retried, failed, deferred)",
    ["channel", "template", "outcome"],
)
REMINDERS_FIRED = Counter(
    "echo_notifications_reminders_fired_total", "Reminder jobs turned into deliveries", ["kind"]
)
