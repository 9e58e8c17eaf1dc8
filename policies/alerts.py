"""Alerts about triggered response policies in the security event log: one entry per notification evaluation made.

Called from :func:`policies.evaluation.evaluate_batch` inside its transaction, so the alerts are stored with the
notifications or not at all, in one bulk insert (a 1,000-event batch makes one notification per policy and output,
not per event). Only notifications that will be sent are alerts: a *suppressed* one (a repeat inside the policy's
repeat interval) or a *muted* one (held back by a silence or a risk acceptance) tells nobody anything, and is kept
in the delivery log with its reason instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource
from notifications.models import NotificationStatus

OBJECT_TYPE = "response policy"


def record_alerts(plans: Iterable, now: datetime) -> list[AuditEntry]:
    """One Alerts entry per pending notification of ``plans`` (each with ``.notification`` saved and ``.events``):
    the policy, its trigger, the number of events and the output."""
    entries = [
        AuditEntry(
            timestamp=now,
            actor_name="system",
            action=AuditAction.ALERT,
            category=AuditCategory.ALERTS,
            object_type=OBJECT_TYPE,
            object_id=str(plan.notification.policy_id),
            object_repr=plan.notification.policy_name[:300],
            changes={
                "trigger": plan.notification.trigger_label,
                "events": len(plan.events),
                "output": plan.notification.integration_name,
                "notification": plan.notification.pk,
            },
            source=AuditSource.SYSTEM,
        )
        for plan in plans
        if plan.notification.status == NotificationStatus.PENDING
    ]
    return AuditEntry.objects.bulk_create(entries) if entries else []
