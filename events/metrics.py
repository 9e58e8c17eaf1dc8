"""Metrics of the events app: events stored, ingest request latency, and (read at scrape time) the batches waiting
for evaluation and when the newest event arrived. Served by ``/metrics`` (see :mod:`kcs.metrics`)."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from django.db.models import Max
from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric

from events.models import EventBatch
from kcs.metrics import LATENCY_BUCKETS, gauge, scrape_gauge

EVENTS_INGESTED = Counter("kcs_events_ingested", "Security events stored, by source and type", ["source", "type"])
INGEST_SECONDS = Histogram(
    "kcs_ingest_request_duration_seconds",
    "Time to answer an ingest POST, by endpoint: events (/api/v1/events/) or the tool (/api/v1/ingest/<tool>/)",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)


def events_stored(rows: Iterable[dict[str, Any]]) -> None:
    """Count stored events (dicts with ``source`` and ``type``); called once their transaction ended well."""
    for (source, type_), number in Tally((row["source"], row["type"]) for row in rows).items():
        EVENTS_INGESTED.labels(source, type_).inc(number)


def timed_ingest(handler: Callable) -> Callable:
    """Decorates an API view's POST handler: its duration goes to ``kcs_ingest_request_duration_seconds``, labelled
    with the view's ``tool`` (the native endpoints) or ``events``."""

    @wraps(handler)
    def timed(view, request, *args, **kwargs):
        started = time.perf_counter()
        try:
            return handler(view, request, *args, **kwargs)
        finally:
            INGEST_SECONDS.labels(getattr(view, "tool", "") or "events").observe(time.perf_counter() - started)

    return timed


@scrape_gauge
def waiting_batches() -> Iterator[Metric]:
    waiting = EventBatch.objects.filter(evaluated_at__isnull=True).count()
    yield gauge("kcs_unevaluated_batches", "Batches with events that no worker has evaluated yet", waiting)
    newest = EventBatch.objects.aggregate(newest=Max("received_at"))["newest"]
    if newest is not None:
        yield gauge(
            "kcs_last_event_received_timestamp_seconds",
            "Unix time at which the newest stored security event was received",
            newest.timestamp(),
        )
