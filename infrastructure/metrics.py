"""What the stores report to operators: Prometheus series and the store-write span.

The metric objects live at module level, as prometheus-client expects. With
PROMETHEUS_MULTIPROC_DIR set before this module is imported (`dialoog serve` sets it for its
workers), every worker writes its values to files there and any worker's /metrics adds them up.
No gauges here: a gauge per process needs a multiprocess mode; what the scrape needs to know
(read-model lag) is computed at scrape time instead (api/telemetry.py).

Caches: none today, so no hit-ratio series. A cache that is added should count hits and misses
here (`dialoog_cache_requests_total{cache,result}`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from prometheus_client import Counter, Histogram

#: Event-store calls take from ~0.1 ms (memory) to seconds (a database under a lock).
_STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

STORE_LATENCY = Histogram(
    "dialoog_event_store_seconds",
    "Time an event-store call took, from the caller's side (insert: until durable).",
    ["operation"],
    buckets=_STORE_BUCKETS,
)
GROUP_COMMIT_SAVES = Histogram(
    "dialoog_group_commit_saves",
    "Saves (one command each) committed together in one PostgreSQL transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GROUP_COMMIT_EVENTS = Histogram(
    "dialoog_group_commit_events",
    "Events committed together in one PostgreSQL transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
ACCESS_LOG_DROPPED = Counter(
    "dialoog_access_log_dropped",
    "Access-log entries dropped because the buffer was full while the store was down.",
)

WEBHOOK_DELIVERIES = Counter(
    "dialoog_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered (a 2xx), or failed.",
    ["outcome"],
)

_tracer = trace.get_tracer("dialoog.store")


@contextmanager
def store_call(operation: str, events: int | None = None) -> Iterator[None]:
    """Time one event-store call; a write also gets a span (child of the command's span)."""
    started = time.perf_counter()
    if operation == "insert":
        with _tracer.start_as_current_span(
            "event_store.insert", kind=trace.SpanKind.CLIENT
        ) as span:
            span.set_attribute("db.system", "postgresql")
            if events is not None:
                span.set_attribute("dialoog.events", events)
            try:
                yield
            finally:
                STORE_LATENCY.labels(operation).observe(time.perf_counter() - started)
        return
    try:
        yield
    finally:
        STORE_LATENCY.labels(operation).observe(time.perf_counter() - started)


def group_committed(saves: int, events: int) -> None:
    GROUP_COMMIT_SAVES.observe(saves)
    GROUP_COMMIT_EVENTS.observe(events)
