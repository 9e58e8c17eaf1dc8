"""The Celery application; configuration comes from Django settings prefixed ``CELERY_``."""

import os
import time

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")

app = Celery("kcs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
    from django.db import close_old_connections, connections

    now = time.monotonic()
    if now - _last_checked < HEALTH_CHECK_AFTER and not any(
        connection.errors_occurred for connection in connections.all(initialized_only=True)
    ):
        return
    _last_checked = now
    close_old_connections()
