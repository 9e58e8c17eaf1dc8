"""Worker processes commit without waiting for the disk flush on PostgreSQL; the web tier keeps durable commits."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from kcs import celery as kcs_celery

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_process(settings):
    """Run the worker process hook, and undo it afterwards."""
    yield lambda: kcs_celery._asynchronous_commits_in_workers()
    connection_created.disconnect(dispatch_uid="kcs-worker-async-commit")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO DEFAULT")


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is a PostgreSQL setting")
def test_worker_connections_commit_without_waiting_for_the_flush(worker_process, settings):
    settings.KCS_WORKER_ASYNC_COMMIT = True
    assert synchronous_commit() == "on"  # the web tier: a 201 means the events are on disk
    worker_process()
    kcs_celery._commit_without_flush(sender=None, connection=connection)  # what a new worker connection gets
    assert synchronous_commit() == "off"
    assert connection_created.has_listeners()


def test_worker_commits_stay_durable_when_asked(worker_process, settings):
    settings.KCS_WORKER_ASYNC_COMMIT = False
    before = len(connection_created.receivers)
    worker_process()
    assert len(connection_created.receivers) == before
