"""Alerts about triggered response policies in the security event log: one entry per notification evaluation made.

Called from :func:`policies.evaluation.evaluate_batch` inside its transaction, so the alerts are stored with the
notifications or not at all, in one insert (a 1,000-event batch makes one notification per policy and output, not
per event). Only notifications that will be sent are alerts: a *suppressed* one (a repeat inside the policy's
repeat interval) or a *muted* one (held back by a silence or a risk acceptance) tells nobody anything, and is kept
in the delivery log with its reason instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from kcs import audit
from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource
from kcs.pg_arrays import array_literal
from notifications.models import NotificationStatus

OBJECT_TYPE = "response policy"


def record_alerts(plans: Iterable, now: datetime) -> int:
    """One Alerts entry per pending notification of ``plans`` (each with ``.notification`` saved and ``.events``):
    the policy, its trigger, the number of events and the output. Returns how many were written."""
    rows = [
        (
            str(plan.notification.policy_id),
            plan.notification.policy_name[:300],
            {
                "trigger": plan.notification.trigger_label,
                "events": len(plan.events),
                "output": plan.notification.integration_name,
                "notification": plan.notification.pk,
            },
        )
        for plan in plans
        if plan.notification.status == NotificationStatus.PENDING
    ]
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        # One statement with three array parameters: about half the time of bulk_create's row of parameters each
        # (bench/delivery.py; this runs in every evaluation that notifies).
        object_ids, names, changes = (list(column) for column in zip(*rows))
        table = connection.ops.quote_name(AuditEntry._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (timestamp, category, actor_name, action, object_type, object_id, object_repr, "
                "changes, source) SELECT %s, %s, %s, %s, %s, o, r, c, %s "
                "FROM unnest(%s::varchar[], %s::varchar[], %s::jsonb[]) AS u(o, r, c) RETURNING id",
                [
                    now,
                    AuditCategory.ALERTS.value,
                    "system",
                    AuditAction.ALERT.value,
                    OBJECT_TYPE,
                    AuditSource.SYSTEM.value,
                    array_literal(object_ids),
                    array_literal(names),
                    array_literal(json.dumps(change) for change in changes),
                ],
            )
            ids = [row[0] for row in cursor.fetchall()]
        # The SIEM streams (kcs.audit listeners) get the alerts like any entry; they read only the ids.
        audit.written([AuditEntry(pk=pk, action=AuditAction.ALERT, object_type=OBJECT_TYPE) for pk in ids])
        return len(rows)
    audit.record_many(
        [
            AuditEntry(
                timestamp=now,
                actor_name="system",
                action=AuditAction.ALERT,
                category=AuditCategory.ALERTS,
                object_type=OBJECT_TYPE,
                object_id=object_id,
                object_repr=name,
                changes=change,
                source=AuditSource.SYSTEM,
            )
            for object_id, name, change in rows
        ]
    )
    return len(rows)
