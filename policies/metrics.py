"""Metrics of the policies app: evaluation latency and the notifications it makes (to send, or suppressed as
repeats), by integration kind. Served by ``/metrics`` (see :mod:`kcs.metrics`)."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from kcs.metrics import LATENCY_BUCKETS
from notifications.models import NotificationStatus

EVALUATION_SECONDS = Histogram(
    "kcs_evaluation_duration_seconds",
    "Time to evaluate a batch against the response policies and store its notifications (first delivery "
    "attempts not included)",
    buckets=LATENCY_BUCKETS,
)
NOTIFICATIONS_CREATED = Counter(
    "kcs_notifications_created", "Notifications made to be sent, by integration kind", ["kind"]
)
NOTIFICATIONS_SUPPRESSED = Counter(
    "kcs_notifications_suppressed",
    "Notifications recorded as suppressed (repeats within a policy's repeat interval), by integration kind",
    ["kind"],
)


def evaluated(started: float, made: Iterable[tuple[str, str]]) -> None:
    """Record an evaluation (at the end of its transaction): its duration since ``started``
    (``time.perf_counter()``) and the notifications it made, as (status, integration kind) pairs."""
    EVALUATION_SECONDS.observe(time.perf_counter() - started)
    for (status, kind), number in Tally(made).items():
        counter = NOTIFICATIONS_SUPPRESSED if status == NotificationStatus.SUPPRESSED else NOTIFICATIONS_CREATED
        counter.labels(kind).inc(number)
