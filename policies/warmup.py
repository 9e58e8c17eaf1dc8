"""Worker warm-up: each worker process builds the policy index, the mutes (risk acceptances and silences) and the
list of SIEM outputs, opens its database connection and compiles the message templates when it starts, so the first
event after a start is as fast as the hundredth.

Celery's Django fixup closes the database connections a forked child inherited, in its own ``worker_process_init``
receiver; ours is connected from ``worker_init`` (which runs after the fixup installed its receivers), so it runs
after the fixup and the connection it opens is kept.
"""

from __future__ import annotations

import logging
import time

from celery.signals import worker_init, worker_process_init
from django.db import connection
from django.utils import timezone

from notifications import delivery, siem
from policies import index_cache, muting

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Open the connection, build the indexes, compile the templates; returns the seconds it took."""
    started = time.monotonic()
    connection.ensure_connection()
    index = index_cache.get_index()
    muting.load(timezone.now())  # what each evaluation checks its events against
    siem.targets()  # each evaluation's log entries are offered to them
    delivery.warm_up()
    elapsed = time.monotonic() - started
    logger.info("worker process warmed up in %.0f ms (%d enabled policies)", elapsed * 1000, len(index))
    return elapsed


def _warm_up_process(**_kwargs) -> None:
    try:
        warm_up()
    except Exception:  # a database that is not up yet: the first task connects and builds the index instead
        logger.warning("worker warm-up failed; the first task will pay for it", exc_info=True)


def _connect_process_warm_up(**_kwargs) -> None:
    worker_process_init.connect(_warm_up_process, weak=False, dispatch_uid="kcs-worker-warm-up")


def connect() -> None:
    """Warm every worker process up when it starts (called by ``PoliciesConfig.ready``)."""
    worker_init.connect(_connect_process_warm_up, weak=False, dispatch_uid="kcs-worker-warm-up-hook")
