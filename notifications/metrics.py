"""Metrics of the notifications app: notifications sent and failed, delivery attempt latency, and (read at scrape
time) the outbox depth and the age of its oldest pending notification. Served by ``/metrics`` (see
:mod:`kcs.metrics`).

The delivery code marks the attempt with :func:`timed_attempt` (it starts the clock) and reports its recorded
outcome with :func:`attempt_recorded` (from ``record_outcome``, the one place of delivery bookkeeping): an attempt
given back unsent (a rate-limit slot, a claim taken over) is never counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import wraps

from django.db.models import Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import Metric

from kcs.metrics import LATENCY_BUCKETS, gauge, scrape_gauge
from notifications.models import Notification, NotificationStatus

NOTIFICATIONS_SENT = Counter("kcs_notifications_sent", "Notifications delivered, by integration kind", ["kind"])
NOTIFICATIONS_FAILED = Counter(
    "kcs_notifications_failed",
    "Notifications that failed for good (permanent error, or out of attempts), by integration kind",
    ["kind"],
)
DELIVERY_SECONDS = Histogram(
    "kcs_delivery_attempt_duration_seconds",
    "Time of one delivery attempt (render, send, record), by integration kind and outcome: sent, retry or failed",
    ["kind", "outcome"],
    buckets=LATENCY_BUCKETS,
)
OUTCOMES = {NotificationStatus.SENT: "sent", NotificationStatus.PENDING: "retry", NotificationStatus.FAILED: "failed"}

_attempt_started: ContextVar[float | None] = ContextVar("kcs_attempt_started", default=None)


def timed_attempt(attempt: Callable) -> Callable:
    """Decorates the function making one delivery attempt: starts the clock that :func:`attempt_recorded` reads."""

    @wraps(attempt)
    def timed(*args, **kwargs):
        token = _attempt_started.set(time.perf_counter())
        try:
            return attempt(*args, **kwargs)
        finally:
            _attempt_started.reset(token)

    return timed


def integration_kind(notification: Notification) -> str:
    return notification.integration.kind if notification.integration is not None else "deleted"


def attempt_recorded(notification: Notification, status: str) -> None:
    """Count the outcome of an attempt that ``record_outcome`` stored (``status``: sent, pending again, failed)."""
    kind = integration_kind(notification)
    if status == NotificationStatus.SENT:
        NOTIFICATIONS_SENT.labels(kind).inc()
    elif status == NotificationStatus.FAILED:
        NOTIFICATIONS_FAILED.labels(kind).inc()
    started = _attempt_started.get()
    if started is not None and status in OUTCOMES:
        DELIVERY_SECONDS.labels(kind, OUTCOMES[status]).observe(time.perf_counter() - started)


@scrape_gauge
def outbox() -> Iterator[Metric]:
    active = Notification.objects.filter(status__in=[NotificationStatus.PENDING, NotificationStatus.SENDING])
    yield gauge(
        "kcs_outbox_depth", "Notifications waiting to be sent or being sent (pending + sending)", active.count()
    )
    oldest = Notification.objects.filter(status=NotificationStatus.PENDING).aggregate(oldest=Min("created_at"))
    age = (timezone.now() - oldest["oldest"]).total_seconds() if oldest["oldest"] else 0.0
    yield gauge(
        "kcs_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending notification (since it was created); 0 when none is pending",
        max(age, 0.0),
    )
