"""Celery tasks of the policies app: thin wrappers taking ids (the work is in :mod:`policies.evaluation`)."""

from celery import shared_task

from events.services import EVALUATE_TASK
from policies import evaluation


@shared_task(name=EVALUATE_TASK, acks_late=True, ignore_result=True)
def evaluate_batch_task(batch_id: str) -> None:
    """Match a stored batch against the enabled response policies, store its notifications and make their first
    delivery attempts (see :func:`policies.evaluation.evaluate_batch`). Idempotent."""
    evaluation.evaluate_batch(batch_id)


@shared_task(name="policies.sweep", acks_late=True, ignore_result=True, time_limit=120)
def sweep_evaluation_task() -> None:
    """Re-queue batches whose events were never evaluated (run by beat)."""
    evaluation.sweep()
