"""Web process warm-up: import what the first request would otherwise import (every app's URL patterns and views,
and the Celery tasks that ingest hands work to by name), so the first event after a start is as fast as the rest.

Everything is reached by name (the URL configuration and Celery's autodiscovery), so the platform layer imports no
app above it.
"""

from __future__ import annotations

import logging
import time

from django.urls import get_resolver, reverse

from kcs.queueing import register_tasks

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Load the URL patterns (and with them every view) and register the tasks; returns the seconds it took."""
    started = time.monotonic()
    get_resolver().url_patterns  # noqa: B018 (loading the patterns imports every app's views)
    reverse("healthz")  # builds the reverse lookup tables every page's links use
    register_tasks()
    elapsed = time.monotonic() - started
    logger.debug("web process warmed up in %.0f ms", elapsed * 1000)
    return elapsed
