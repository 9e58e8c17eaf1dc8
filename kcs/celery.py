"""The Celery application; configuration comes from Django settings prefixed ``CELERY_``."""

import os
import time

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init, worker_process_shutdown
from django import db
from django.conf import settings
from django.db.backends.signals import connection_created

from kcs.checks import warn_at_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")

app = Celery("kcs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Worker-to-worker broadcast bootsteps, off in every worker of this product (see _without_broadcast_bootsteps).
WORKER_OPTIONS = {"without_gossip": True, "without_mingle": True, "without_heartbeat": True}


@worker_init.connect
def _without_broadcast_bootsteps(sender=None, **_kwargs) -> None:
    """Run every worker as ``--without-gossip --without-mingle --without-heartbeat``, however it was started.

    Gossip (leader election, worker join/leave), mingle (syncing revoked task ids at start) and the worker heartbeat
    events (for monitors such as Flower) are broadcasts this product never uses, and with Redis as the broker they
    are what breaks on a broker restart. When the connection drops, the consumer closes it and sets it to ``None``,
    then stops each bootstep; stopping Gossip closes its channel, which deletes the auto-delete fanout binding of its
    queue on the dead connection, and the error handling around that (``ignore_errors(c.connection, …)``) reads
    attributes of the connection that is now ``None`` (or of the transport whose client was cleared: the reported
    ``AttributeError("'NoneType' object has no attribute 'hostname'")``, kombu issue #582). An AttributeError is not a
    connection error: at best the worker logs "Error on restarting Gossip", at worst it ends with "Unrecoverable
    error". Without these bootsteps a reconnect only restarts the task consumer and remote control, whose teardown
    handles a lost connection, and the worker rides out the restart.

    ``worker_init`` runs after the worker stored its options and before its consumer reads them.
    """
    options = getattr(sender, "options", None)
    if isinstance(options, dict):
        options.update(WORKER_OPTIONS)


# A connection that served a task this recently is not health-checked again (a SELECT 1 per task is a tenth of a
# short delivery); one whose last query failed always is.
HEALTH_CHECK_AFTER = 1.0  # seconds
_last_checked = 0.0


@task_prerun.connect
def _database_connections_per_task(task=None, **kwargs) -> None:
    """Treat each task like a request: drop a connection that is broken or past CONN_MAX_AGE, keep the rest.

    In a burst of short tasks the check runs at most once per HEALTH_CHECK_AFTER, unless a query failed.
    Eager tasks run inside the caller's transaction (tests), where closing the connection must not happen.
    """
    global _last_checked
    if task is not None and getattr(task.request, "is_eager", False):
        return
    now = time.monotonic()
    if now - _last_checked < HEALTH_CHECK_AFTER and not any(
        connection.errors_occurred for connection in db.connections.all(initialized_only=True)
    ):
        return
    _last_checked = now
    db.close_old_connections()


@worker_init.connect
def _start_up_warnings(**_kwargs) -> None:
    warn_at_start()


@worker_process_init.connect
def _asynchronous_commits_in_workers(**_kwargs) -> None:
    """Worker processes commit without waiting for the disk flush (PostgreSQL ``synchronous_commit = off``).

    A durable commit costs a disk flush (about 4 ms on the development machine), and one event's evaluation and
    delivery commit three times: that was most of the time from POST to webhook. Everything a worker writes can be
    made again from what the web tier committed durably, so a database crash that loses the last fraction of a
    second of worker commits (PostgreSQL keeps the database consistent) costs at most a repeat, never a loss: events
    not marked evaluated are evaluated again by the sweeper, and a notification made again carries the same derived
    idempotency key, so receivers drop the duplicate; a lost claim or outcome means the message is attempted again
    with its key. Ingestion in the web tier keeps durable commits: a client that got its 201 never loses its events.
    Off with ``KCS_WORKER_ASYNC_COMMIT=false``.
    """
    if settings.KCS_WORKER_ASYNC_COMMIT:
        connection_created.connect(_commit_without_flush, weak=False, dispatch_uid="kcs-worker-async-commit")


def _commit_without_flush(sender, connection, **_kwargs) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


@task_postrun.connect
def _worker_heartbeat(task=None, **_kwargs) -> None:
    """Record that a worker process finished a task of its queue (throttled; see kcs/heartbeat.py). Eager tasks run
    in the caller's process, which is no worker."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from kcs.heartbeat import beat  # a model module: only once the app registry is ready

    beat((task.request.delivery_info or {}).get("routing_key") or "unknown")


@worker_process_shutdown.connect
def _metrics_of_an_ended_process(pid=None, **_kwargs) -> None:
    from kcs.metrics import process_exited  # here: kcs.metrics reads settings, not yet loaded when this module is

    process_exited(pid or os.getpid())
