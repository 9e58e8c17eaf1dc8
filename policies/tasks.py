"""Celery tasks of the policies app: thin wrappers taking ids (the work is in :mod:`policies.evaluation`)."""

from celery import shared_task

from events.services import EVALUATE_TASK
from kcs.retention import Budget
from kcs.revisions import read_together
from policies import evaluation, retention


@shared_task(name=EVALUATE_TASK, acks_late=True, ignore_result=True)
def evaluate_batch_task(batch_id: str) -> None:
    """Match a stored batch against the enabled response policies, store its notifications and make their first
    delivery attempts (see :func:`policies.evaluation.evaluate_batch`). Idempotent.

    The caches it checks (policy index, acceptances, silences, SIEM outputs) read their revisions in one query."""
    with read_together():
        evaluation.evaluate_batch(batch_id)


@shared_task(name="policies.sweep", acks_late=True, ignore_result=True, time_limit=120)
def sweep_evaluation_task() -> None:
    """Re-queue batches whose events were never evaluated (run by beat)."""
    evaluation.sweep()


# Not acks_late: a purge cut short by a lost worker is finished by the next hourly run, and one redelivered while
# still running would only race the first.
@shared_task(
    name="policies.purge",
    ignore_result=True,
    soft_time_limit=retention.TASK_SECONDS + 60,
    time_limit=retention.TASK_SECONDS + 120,
)
def purge_task() -> None:
    """Delete what the retention settings let go (run by beat every hour; see :mod:`policies.retention`)."""
    retention.purge(budget=Budget(seconds=retention.TASK_SECONDS))
