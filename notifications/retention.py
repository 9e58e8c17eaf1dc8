"""Retention of the notifications app: notifications and repeat marks older than ``KCS_RETENTION_DAYS``.

A notification still pending or sending is never deleted (it has yet to be delivered), whatever its age; nor is a
repeat mark whose quiet period is not over (deleting it would let a repeat through). Run by
:func:`policies.retention.purge`, before the events: a notification's links are what keep its events.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from kcs.retention import PURGE_CHUNK, Budget, delete_in_chunks, delete_rows
from notifications.models import Notification, NotificationStatus, RepeatMark

ACTIVE = (NotificationStatus.PENDING, NotificationStatus.SENDING)


def expired_notifications(cutoff: datetime) -> QuerySet[Notification]:
    """Notifications created before ``cutoff`` that are done (sent, failed, suppressed or muted)."""
    return Notification.objects.filter(created_at__lt=cutoff).exclude(status__in=ACTIVE)


def staying_notifications(cutoff: datetime) -> QuerySet[Notification]:
    """The notifications a purge with this ``cutoff`` leaves."""
    return Notification.objects.filter(Q(created_at__gte=cutoff) | Q(status__in=ACTIVE))


def release_audit_entries(entry_ids: list[int]) -> None:
    """Let SIEM rows drop their log entries before the log's retention deletes them (``before_delete`` of
    :func:`kcs.retention.purge_audit_log`); a row still to send then fails, saying the entry is gone."""
    Notification.objects.filter(audit_entry_id__in=entry_ids).update(audit_entry=None)


def _delete_links(notification_ids: list[int]) -> None:
    delete_rows(Notification.events.through, notification_ids, "notification")


def purge_notifications(
    cutoff: datetime,
    now: datetime,
    *,
    dry_run: bool = False,
    chunk: int = PURGE_CHUNK,
    budget: Budget | None = None,
) -> dict[str, int]:
    """Delete expired notifications (with their links to events), then repeat marks last set before ``cutoff``
    whose quiet period ended before ``now``; returns how many of each."""
    notifications = expired_notifications(cutoff)
    marks = RepeatMark.objects.filter(notified_at__lt=cutoff, quiet_until__lte=now)
    if dry_run:
        return {"notifications": notifications.count(), "repeat marks": marks.count()}
    return {
        "notifications": delete_in_chunks(
            notifications, order_by="created_at", chunk=chunk, budget=budget, before_delete=_delete_links
        ),
        # No index on these times (claims update them on every notification): the chunks go by primary key.
        "repeat marks": delete_in_chunks(marks, chunk=chunk, budget=budget),
    }
