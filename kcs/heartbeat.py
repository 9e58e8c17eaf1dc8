"""The worker heartbeat: each worker process records, at most every few seconds, that it finished a task of a queue.

Recorded by a Celery ``task_postrun`` handler (``kcs/celery.py``) and exposed at ``/metrics`` as
``kcs_worker_heartbeat_timestamp_seconds{queue=…}``: the Unix time of the last task a worker finished from that queue.
Beat sends each stage's sweeper every ``KCS_SWEEP_INTERVAL`` (30 s), so a value older than a few minutes means no
worker takes that queue's tasks, or beat is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from kcs.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

BEAT_EVERY = 10.0  # seconds: at most one write per process and queue this often, however many tasks run
_last_beat: dict[str, float] = {}


def beat(queue: str, now: datetime | None = None) -> bool:
    """Record that this process finished a task from ``queue``; returns whether it was written (not throttled).

    A database error is logged, never raised: a missed beat must not fail the task that was just done.
    """
    clock = time.monotonic()
    if clock - _last_beat.get(queue, float("-inf")) < BEAT_EVERY:
        return False
    _last_beat[queue] = clock
    try:
        WorkerHeartbeat.objects.bulk_create(
            [WorkerHeartbeat(queue=queue, beat_at=now or timezone.now())],
            update_conflicts=True,
            unique_fields=["queue"],
            update_fields=["beat_at"],
        )
    except DatabaseError as exc:
        logger.warning("worker heartbeat of queue %s not recorded: %s", queue, exc)
        return False
    return True


def heartbeat_gauges() -> Iterator[GaugeMetricFamily]:
    """The scrape gauge (registered by ``KcsConfig.ready``)."""
    family = GaugeMetricFamily(
        "kcs_worker_heartbeat_timestamp_seconds",
        "Unix time at which a worker last finished a task from the queue",
        labels=["queue"],
    )
    for queue, beat_at in WorkerHeartbeat.objects.order_by("queue").values_list("queue", "beat_at"):
        family.add_metric([queue], beat_at.timestamp())
    yield family
