"""The Celery broker: which kinds of URL the product runs on, and each one's transport options.

Read by :mod:`kcs.settings` (no Django here), and by the end-to-end tests that point a worker at another broker.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

REDIS_SCHEMES = ("redis://", "rediss://")
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")

# RabbitMQ closes a consumer's channel when it holds a message unacknowledged longer than its consumer_timeout
# (30 min by default). A retry is a task published with a countdown, which the worker holds unacknowledged until it
# is due; the longest backoff with jitter (36 min) would exceed it. On AMQP a countdown is therefore capped here: a
# task that arrives before its row is due does nothing, and the delivery sweeper re-queues the row once it is due.
AMQP_MAX_COUNTDOWN = 15 * 60  # seconds


def broker_kind(url: str) -> str:
    """``filesystem``, ``redis`` or ``amqp``; a clear error for anything else."""
    if url.startswith("filesystem://"):
        return "filesystem"
    if url.startswith(REDIS_SCHEMES):
        return "redis"
    if url.startswith(AMQP_SCHEMES):
        return "amqp"
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must be filesystem://, redis://host:port/db or amqp://user:password@host:5672/vhost"
    )


def transport_options(url: str, *, visibility_timeout: int = 600) -> dict:
    """Transport options for a Redis or AMQP broker URL (the filesystem broker's are set in settings)."""
    kind = broker_kind(url)
    if kind == "redis":
        # A message taken by a worker that dies comes back after this many seconds; the sweeper covers the rest.
        return {"visibility_timeout": visibility_timeout}
    if kind == "amqp":
        # Publisher confirms: a publish returns once RabbitMQ has taken the message (persistent, on a durable
        # queue), so a task handed over after a commit survives a broker restart. Unacknowledged messages of a
        # worker that dies are redelivered by RabbitMQ itself as soon as its connection closes (no visibility
        # timeout to wait for).
        return {"confirm_publish": True}
    return {}


def max_countdown(url: str) -> float | None:
    """The longest countdown a task may be published with on this broker (None: no limit)."""
    return AMQP_MAX_COUNTDOWN if broker_kind(url) == "amqp" else None
