"""Enqueueing Celery tasks safely: only after the surrounding transaction commits, never failing the caller.

A broker that is down when a request commits must not turn a stored event into a 500: the row is already safe in
the database, and the periodic sweeper re-enqueues whatever was never picked up.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def send_now(task, *args, countdown: float | None = None) -> bool:
    """Publish ``task(*args)`` (after ``countdown`` seconds); log and return False when the broker refuses (the
    sweeper will retry)."""
    try:
        task.apply_async(
            args=args, countdown=countdown, retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1}
        )
    except Exception as exc:  # kombu raises transport-specific errors; none of them may lose the stored row
        logger.warning("could not enqueue %s%r: %s; the sweeper will pick it up", task.name, args, exc)
        return False
    return True


def enqueue_on_commit(task, *args) -> None:
    """Publish ``task(*args)`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send_now(task, *args))
