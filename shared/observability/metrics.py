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
CONSUMER_STATE = Gauge(
    "pelanggan_consumer_state",
    "1 for the consumer's current state (running, retrying, database unavailable, broker unreachable, stalled, ...)",
    ["service", "group", "state"],
)
CONSUMER_RETRYING_PARTITIONS = Gauge(
    "pelanggan_consumer_retrying_partitions", "Partitions paused until a record's retry is due", ["service", "group"]
)
CONSUMER_RESTARTS = Counter(
    "pelanggan_consumer_restarts_total", "Consumers rebuilt, by reason (stalled, broker unreachable, restarting)",
    ["service", "group", "reason"],
)
READY = Gauge("pelanggan_ready", "1 when the instance can serve its API (database reachable, migrations applied)",
              ["service"])
DEGRADED = Gauge(
    "pelanggan_degraded", "1 when a part other than the API's own is in trouble (broker, outbox, consumers)",
    ["service", "check"],
)
OUTBOX_PRUNED = Counter("pelanggan_outbox_pruned_total", "Published outbox rows deleted after retention", ["service"])
INBOX_PRUNED = Counter("pelanggan_inbox_pruned_total", "Inbox rows deleted after retention", ["service"])
