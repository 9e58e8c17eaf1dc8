"""The Celery application; configuration comes from Django settings prefixed ``CELERY_``."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")

app = Celery("kcs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _database_connections_per_task(task=None, **kwargs) -> None:
    """Treat each task like a request: drop a connection that is broken or past CONN_MAX_AGE, keep the rest.

    Eager tasks run inside the caller's transaction (tests), where closing the connection must not happen.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
