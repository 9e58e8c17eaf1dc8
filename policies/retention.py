"""Retention: the hourly purge of everything older than ``KCS_RETENTION_DAYS`` (the security event log:
``KCS_AUDIT_RETENTION_DAYS``), run by the task ``policies.purge`` and by ``manage.py purge``.

Each app deletes its own rows; this top layer, which sees them all, runs them in the order the foreign keys need
and says what must stay: notifications first (a done notification's links to its events go with it), then the
events and batches that no notification left still needs, then the security event log. A notification still
pending or sending keeps its events and its batch, whatever their age.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from events.retention import purge_events
from kcs.retention import PURGE_CHUNK, Budget, purge_audit_log
from notifications.models import Notification
from notifications.retention import purge_notifications, release_audit_entries, staying_notifications

logger = logging.getLogger(__name__)

# The scheduled purge stops after this long (the next hourly run goes on where it stopped); well inside the task's
# time limits and the broker's visibility timeout.
TASK_SECONDS = 300


@dataclass
class PurgeReport:
    """How many rows of each kind were deleted (or, in a dry run, would be), and whether the purge got to the end."""

    deleted: dict[str, int] = field(default_factory=dict)
    cutoff: datetime | None = None
    audit_cutoff: datetime | None = None
    seconds: float = 0.0
    complete: bool = True
    dry_run: bool = False


def purge(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    chunk: int = PURGE_CHUNK,
    budget: Budget | None = None,
) -> PurgeReport:
    """Delete what the retention settings let go; see the module docstring for the order and what stays."""
    started = time.monotonic()
    now = now or timezone.now()
    budget = budget or Budget(rest_ratio=0)
    report = PurgeReport(
        cutoff=now - timedelta(days=settings.KCS_RETENTION_DAYS),
        audit_cutoff=now - timedelta(days=settings.KCS_AUDIT_RETENTION_DAYS),
        dry_run=dry_run,
    )
    options = {"dry_run": dry_run, "chunk": chunk, "budget": budget}
    report.deleted.update(purge_notifications(report.cutoff, now, **options))
    # A real run deletes after the notifications are gone, so every notification left keeps its events (one that
    # changed status meanwhile included); a dry run counts what the notifications it would leave keep.
    staying = staying_notifications(report.cutoff) if dry_run else Notification.objects.all()
    report.deleted.update(
        purge_events(
            report.cutoff,
            keep_events=[Exists(staying.filter(events=OuterRef("pk")))],
            keep_batches=[Exists(staying.filter(batch=OuterRef("pk")))],
            **options,
        )
    )
    report.deleted.update(purge_audit_log(report.audit_cutoff, before_delete=release_audit_entries, **options))
    report.complete = not budget.spent()
    report.seconds = time.monotonic() - started
    if not dry_run and any(report.deleted.values()):
        logger.info(
            "retention purge%s in %.1f s: %s",
            "" if report.complete else " (stopped at its time budget; the next run goes on)",
            report.seconds,
            ", ".join(f"{number} {kind}" for kind, number in report.deleted.items()),
        )
    return report
