"""Celery tasks of the notifications app: thin wrappers taking ids (the work is in :mod:`notifications.delivery`).

Named `<work>_task` so that they are never mistaken for the functions they wrap.

Both are idempotent: a redelivered ``deliver`` finds its row already claimed or sent, and ``sweep`` only
re-queues work that is itself idempotent.
"""

from celery import shared_task

from notifications import delivery


@shared_task(
    name=delivery.DELIVER_TASK,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=delivery.DELIVERY_SOFT_TIME_LIMIT,
    time_limit=delivery.DELIVERY_TIME_LIMIT,
)
def deliver_task(notification_id: int) -> None:
    """Send one notification (claim, render, send, record the outcome)."""
    delivery.deliver(notification_id)


@shared_task(name="notifications.sweep", acks_late=True, ignore_result=True, time_limit=120)
def sweep_delivery_task() -> None:
    """Re-queue notifications left pending or stuck in sending (run by beat)."""
    delivery.sweep()
