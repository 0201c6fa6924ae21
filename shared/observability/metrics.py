"""Prometheus metrics every service exposes on /metrics.

Labelled by service, so one registry works when several services share a process (tests, `pelanggan run`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "pelanggan_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
)
OUTBOX_BACKLOG = Gauge("pelanggan_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_PENDING = Gauge(
    "pelanggan_outbox_oldest_pending_seconds", "Age of the oldest outbox row not yet published", ["service"]
)
OUTBOX_PUBLISHED = Counter("pelanggan_outbox_published_total", "Outbox rows published", ["service"])
OUTBOX_FAILURES = Counter("pelanggan_outbox_publish_failures_total", "Failed relay ticks", ["service"])
CONSUMER_LAG = Gauge(
    "pelanggan_consumer_lag", "Messages behind the log end", ["service", "group", "topic", "partition"]
)
EVENTS_HANDLED = Counter(
    "pelanggan_events_handled_total", "Consumed events by outcome", ["service", "group", "outcome"]
)
DEAD_LETTERS = Counter("pelanggan_dead_letters_total", "Events moved to a dead-letter topic", ["service", "group"])
