"""The worker's per-task database hook: a connection that broke or outlived CONN_MAX_AGE is replaced before the next
task runs, while a burst of short tasks is not slowed by a health check per task."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from celery.signals import task_prerun
from django.conf import settings
from django.db import Error
from django.db.utils import ConnectionHandler

from kcs import celery as kcs_celery
from notifications.tasks import deliver_task as deliver


class Clock:
    """The hook's clock (seconds), moved by the test."""

    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(kcs_celery, "time", SimpleNamespace(monotonic=clock))
    monkeypatch.setattr(kcs_celery, "_last_checked", 0.0)
    return clock


@pytest.fixture
def worker_db(db, monkeypatch, tmp_path):
    """The worker process's own connection to the test database (outside the test's transaction)."""
    databases = copy.deepcopy(settings.DATABASES)
    if databases["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # An in-memory SQLite database is never closed (that would destroy it): the worker gets a file, as in use.
        databases["default"]["NAME"] = str(tmp_path / "worker.sqlite3")
    handler = ConnectionHandler(databases)
    monkeypatch.setattr("django.db.connections", handler)
    yield handler["default"]
    handler.close_all()


def task_starts(*, eager: bool = False) -> None:
    """What Celery signals before it runs a task (here a delivery), in a worker or eagerly in the caller."""
    deliver.push_request(id="task-1", args=[1], is_eager=eager)
    try:
        task_prerun.send(sender=deliver, task_id="task-1", task=deliver, args=(1,), kwargs={})
    finally:
        deliver.pop_request()


def outlives_its_max_age(connection) -> None:
    connection.ensure_connection()
    connection.close_at = 0  # Django compares it with time.monotonic(): long past


def answers(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def test_an_expired_connection_is_replaced_once_per_burst_of_tasks(worker_db, clock):
    outlives_its_max_age(worker_db)
    task_starts()
    assert worker_db.connection is None  # dropped: the task opens a new one
    assert answers(worker_db)

    outlives_its_max_age(worker_db)
    kept = worker_db.connection
    clock.now += 0.4
    task_starts()
    assert worker_db.connection is kept  # checked 0.4 s ago: no check for this task

    clock.now += 1.1
    task_starts()
    assert worker_db.connection is None


def test_a_connection_whose_query_failed_is_replaced_before_the_next_task_even_in_a_burst(worker_db, clock):
    task_starts()
    assert answers(worker_db)
    worker_db.connection.close()  # the server went away under the worker (restart, idle timeout, failover)
    with pytest.raises(Error):
        answers(worker_db)
    clock.now += 0.2
    task_starts()
    assert answers(worker_db)


def test_eager_tasks_leave_the_connection_alone(worker_db, clock):
    """Eager tasks run inside the caller's transaction: closing its connection would break the caller."""
    outlives_its_max_age(worker_db)
    kept = worker_db.connection
    task_starts(eager=True)
    assert worker_db.connection is kept
