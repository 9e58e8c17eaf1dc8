"""Web process warm-up: import what the first request would otherwise import (every app's URL patterns and views,
and the Celery tasks that ingest hands work to by name) and open the way to the broker, so the first event after a
start is as fast as the rest.

Everything is reached by name (the URL configuration and Celery's autodiscovery), so the platform layer imports no
app above it.
"""

from __future__ import annotations

import logging
import time

from django.urls import get_resolver, reverse

from kcs.celery import app
from kcs.queueing import register_tasks

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Load the URL patterns (and with them every view) and register the tasks; returns the seconds it took."""
    started = time.monotonic()
    get_resolver().url_patterns  # noqa: B018 (loading the patterns imports every app's views)
    reverse("healthz")  # builds the reverse lookup tables every page's links use
    register_tasks()
    warm_celery()
    elapsed = time.monotonic() - started
    logger.debug("web process warmed up in %.0f ms", elapsed * 1000)
    return elapsed


def warm_celery() -> None:
    """Finalize the Celery app, load its result backend, build the producer pool, connect it to the broker and
    declare the task queues, as the first publish would.

    The first task published by a process imports the broker's transport (redis-py and its asyncio client: some
    200 ms), finalizes the Celery app (20 ms) and connects: that was most of the time from the first POST after a
    start to its webhook. A broker that is down must not stop the web server (``/readyz`` reports it, and ingest stores
    events whatever the broker does): it is logged, and the first publish tries again.
    """
    app.finalize(auto=True)
    app.backend  # noqa: B018 (each publish makes a result object, which loads the backend the first time)
    try:
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
            for queue in app.amqp.queues.values():
                producer.maybe_declare(queue)
    except Exception as exc:  # kombu raises transport-specific errors
        logger.warning("could not reach the broker at start (%s); the first task published will connect", exc)
