"""The broker setting: Redis and RabbitMQ are accepted with their own transport options, anything else stops the
start with a message naming the variable; on RabbitMQ a retry's countdown stays under its consumer timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from kcs import broker, queueing

SHOW = (
    "import django; django.setup();"
    "from kcs.celery import app; print(app.conf.broker_url); print(sorted(app.conf.broker_transport_options.items()))"
)


def start(tmp_path, broker_url: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KCS_", "DJANGO_", "CELERY_", "DATABASE_")) and key != "PYTHONPATH"
    }
    return subprocess.run(
        [sys.executable, "-B", "-c", SHOW],
        cwd=tmp_path,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "kcs.settings",
            "KCS_VAR_DIR": str(tmp_path / "var"),
            "PYTHONPATH": str(settings.BASE_DIR),
            "CELERY_BROKER_URL": broker_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "url, options",
    [
        ("redis://127.0.0.1:6379/0", "[('visibility_timeout', 600)]"),
        ("amqp://guest:guest@127.0.0.1:5672/kcs", "[('confirm_publish', True)]"),
        ("amqps://kcs:secret@rabbit.example.com:5671/kcs", "[('confirm_publish', True)]"),
    ],
)
def test_the_product_starts_on_redis_and_on_rabbitmq(tmp_path, url, options):
    result = start(tmp_path, url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == [url, options]


def test_another_broker_stops_the_start_naming_the_variable(tmp_path):
    result = start(tmp_path, "kafka://127.0.0.1:9092")
    assert result.returncode != 0
    assert "ImproperlyConfigured: CELERY_BROKER_URL must be filesystem://, redis://" in result.stderr


def test_broker_kinds_and_countdown_limits():
    assert broker.broker_kind("rediss://h:6380/0") == "redis" and broker.broker_kind("pyamqp://h//") == "amqp"
    assert broker.max_countdown("redis://h/0") is None
    assert broker.max_countdown("amqp://h//") == broker.AMQP_MAX_COUNTDOWN < 30 * 60  # RabbitMQ's consumer_timeout
    with pytest.raises(ImproperlyConfigured):
        broker.broker_kind("sqs://")


def test_on_rabbitmq_a_long_countdown_is_capped(monkeypatch, settings):
    published = []
    task = SimpleNamespace(apply_async=lambda **kwargs: published.append(kwargs["countdown"]))
    monkeypatch.setattr(queueing, "_task", lambda name: task)
    settings.KCS_BROKER_MAX_COUNTDOWN = broker.AMQP_MAX_COUNTDOWN
    queueing.send_now("notifications.deliver", 1, countdown=2000.0)
    queueing.send_now("notifications.deliver", 1, countdown=20.0)
    settings.KCS_BROKER_MAX_COUNTDOWN = None  # Redis
    queueing.send_now("notifications.deliver", 1, countdown=2000.0)
    assert published == [broker.AMQP_MAX_COUNTDOWN, 20.0, 2000.0]


def test_every_worker_runs_without_the_broadcast_bootsteps():
    """Even when started without --without-gossip/--without-mingle/--without-heartbeat (kcs/celery.py): those
    bootsteps' consumers are what made a Redis restart end the worker. (A real worker started so is checked in
    tests/e2e/test_brokers.py.)"""
    from kcs import celery

    worker = SimpleNamespace(options={"without_gossip": False, "without_mingle": False, "concurrency": 2})
    celery._without_broadcast_bootsteps(sender=worker)
    assert worker.options == {
        "without_gossip": True,
        "without_mingle": True,
        "without_heartbeat": True,
        "concurrency": 2,
    }
