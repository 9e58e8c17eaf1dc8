"""Celery tasks of the events app: thin wrappers (the work is in :mod:`events.acceptances`)."""

from celery import shared_task

from events import acceptances

EXPIRE_TASK = "events.expire_acceptances"


# Not acks_late: a run cut short is finished by the next one a minute later, and each acceptance's expiry is
# recorded once whatever runs it.
@shared_task(name=EXPIRE_TASK, ignore_result=True, time_limit=120)
def expire_acceptances_task() -> None:
    """Turn risk acceptances whose period ended into their expiry events (run by beat every minute)."""
    acceptances.expire_due()
