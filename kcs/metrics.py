"""Prometheus metrics: how they are collected across processes and served at ``/metrics``.

Each app defines and records its own metrics with prometheus-client (``events/metrics.py``,
``notifications/metrics.py``, ``policies/metrics.py``, imported by their ``AppConfig.ready``); this module holds
what they share:

- :func:`scrape_gauge` registers a function that reads gauges from the database when Prometheus scrapes (outbox
  depth, batches waiting for evaluation, the worker heartbeat), so every web process answers the same;
- multiprocess mode: with ``KCS_METRICS_TOKEN`` set, settings point ``PROMETHEUS_MULTIPROC_DIR`` at a folder
  (``var/metrics`` by default) where every gunicorn and Celery worker process keeps its counters and histograms;
  :func:`exposition` adds them up. ``manage.py serve`` empties the folder at start (:func:`clear_files`), and
  :func:`process_exited` is called when a web or worker process ends;
- :func:`metrics_view`: ``/metrics`` answers 404 unless ``KCS_METRICS_TOKEN`` is set, and 401 unless the request
  carries ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

# Seconds; one set for every latency histogram of the product, from a fast single-event POST to a slow output.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

ScrapeGauge = Callable[[], Iterable[Metric]]
_scrape_gauges: list[ScrapeGauge] = []


def scrape_gauge(function: ScrapeGauge) -> ScrapeGauge:
    """Register ``function`` to run at every scrape (also a decorator); it returns metric families (see
    :func:`gauge`). A database error in it is logged and its gauges are left out of that scrape."""
    if function not in _scrape_gauges:
        _scrape_gauges.append(function)
    return function


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """One gauge sample, for a :func:`scrape_gauge` function to return."""
    return GaugeMetricFamily(name, documentation, value=value)


class _DatabaseGauges:
    """The registered scrape gauges, as a prometheus-client collector."""

    def collect(self) -> Iterator[Metric]:
        for function in _scrape_gauges:
            try:
                yield from function()
            except DatabaseError as exc:
                logger.warning("metrics: %s left out of this scrape: %s", function.__qualname__, exc)


_database_gauges = _DatabaseGauges()


def exposition() -> bytes:
    """Every metric in the Prometheus text format: the processes' counters and histograms (added up from the
    multiprocess folder, or this process's own when there is none) and the database gauges."""
    registry = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(REGISTRY)
    registry.register(_database_gauges)
    return generate_latest(registry)


def bearer_token_matches(authorization: str, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>`` (the token compared in constant time)."""
    scheme, _, sent = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: 404 while ``KCS_METRICS_TOKEN`` is unset, 401 without the right bearer token."""
    token = settings.KCS_METRICS_TOKEN
    if not token:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not bearer_token_matches(request.META.get("HTTP_AUTHORIZATION", ""), token):
        response = HttpResponse("A valid bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def clear_files() -> int:
    """Delete the per-process files a previous run left in the multiprocess folder; returns how many.

    Only when no process of the product is running (``manage.py serve`` calls it before starting any): the counters
    then start again from zero, which Prometheus reads as a restart.
    """
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return 0
    files = list(Path(settings.PROMETHEUS_MULTIPROC_DIR).glob("*.db"))
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def process_exited(pid: int) -> None:
    """Bookkeeping for a web or worker process that ended: prometheus-client drops its live gauges (its counters
    and histograms stay in the folder, so the totals never go down)."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid, settings.PROMETHEUS_MULTIPROC_DIR)
