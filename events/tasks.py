"""Celery tasks of the events app (thin: the work lives in services)."""

from celery import shared_task


@shared_task(name="events.evaluate_batch", acks_late=True, ignore_result=True)
def evaluate_batch(batch_id: str) -> None:
    """Match a stored batch against the enabled response policies and queue its notifications.

    Idempotent: events already evaluated are skipped, so a redelivered message does nothing twice.
    """
    from notifications.dispatch import evaluate_batch as evaluate

    evaluate(batch_id)
