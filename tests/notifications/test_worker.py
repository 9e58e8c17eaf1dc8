"""The worker's per-task database hook: broken or old connections are dropped, without a check per short task."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection

from kcs import celery as kcs_celery

TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


@pytest.fixture
def checks(monkeypatch):
    calls = []
    monkeypatch.setattr(kcs_celery, "close_old_connections", lambda: calls.append(1))
    monkeypatch.setattr(kcs_celery, "_last_checked", 0.0)
    return calls


def test_connections_are_checked_once_per_burst_of_tasks(checks, monkeypatch):
    clock = iter([100.0, 100.4, 100.9, 101.5])
    monkeypatch.setattr(kcs_celery.time, "monotonic", lambda: next(clock))
    for _ in range(4):
        kcs_celery._database_connections_per_task(task=TASK)
    assert len(checks) == 2  # at 100.0 and again 1.5 s later


@pytest.mark.django_db
def test_a_connection_whose_query_failed_is_checked_before_the_next_task(checks, monkeypatch):
    monkeypatch.setattr(kcs_celery.time, "monotonic", lambda: 100.0)
    connection.ensure_connection()
    kcs_celery._database_connections_per_task(task=TASK)
    monkeypatch.setattr(connection, "errors_occurred", True)
    kcs_celery._database_connections_per_task(task=TASK)
    assert len(checks) == 2


def test_eager_tasks_leave_the_connection_alone(checks):
    kcs_celery._database_connections_per_task(task=SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert checks == []
