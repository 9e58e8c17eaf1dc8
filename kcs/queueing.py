"""Enqueueing Celery tasks safely: by name, only after the surrounding transaction commits, never failing the caller.

Tasks are named, not imported: a lower layer hands work to a higher one (ingest → evaluation) by the task's name,
so no app imports the app above it. A broker that is down when a request commits must not turn a stored event into
a 500: the row is already safe in the database, and each stage's sweeper re-enqueues whatever was never picked up.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import transaction

from kcs.celery import app

logger = logging.getLogger(__name__)
_import_lock = threading.Lock()


def _task(name: str):
    """The registered task called ``name``.

    Calling the task object rather than ``app.send_task`` keeps ``task_always_eager`` working in tests. A worker
    imports every app's ``tasks`` module at start; a web process does so here, the first time it enqueues.
    """
    try:
        return app.tasks[name]
    except KeyError:
        register_tasks()
        return app.tasks[name]


def register_tasks() -> None:
    """Import every app's ``tasks`` module (Celery's autodiscovery), once per process."""
    # Under a lock: Celery's loader marks the modules imported before it imports them, so a second thread of a
    # threaded web worker would otherwise look a task up while the first is still importing (a 500).
    with _import_lock:
        app.loader.import_default_modules()


def send_now(name: str, *args, countdown: float | None = None) -> bool:
    """Publish task ``name(*args)`` (after ``countdown`` seconds); log and return False when the broker refuses
    (the sweeper will retry)."""
    task = _task(name)  # an unknown name is a bug, not a broker outage: let it raise
    limit = getattr(settings, "KCS_BROKER_MAX_COUNTDOWN", None)
    if countdown is not None and limit is not None and countdown > limit:
        # RabbitMQ: a task due later arrives early, finds its row not due and does nothing; the sweeper re-queues
        # the row when it is due (kcs/broker.py).
        countdown = limit
    try:
        task.apply_async(
            args=args, countdown=countdown, retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1}
        )
    except Exception as exc:  # kombu raises transport-specific errors; none of them may lose the stored row
        logger.warning("could not enqueue %s%r: %s; the sweeper will pick it up", name, args, exc)
        return False
    return True


def enqueue_on_commit(name: str, *args) -> None:
    """Publish task ``name(*args)`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send_now(name, *args))
