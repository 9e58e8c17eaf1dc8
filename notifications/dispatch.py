"""Evaluation of ingested events against response policies: a batch in, Notification rows out.

:func:`evaluate_batch` runs after the ingest transaction committed (task ``events.evaluate_batch``). In one
transaction it takes the batch's events that were never evaluated (locked, so a redelivered task waits and then
finds nothing), matches them against the cached policy index, creates one Notification per (policy, integration)
listing its events, records repeats inside a policy's ``repeat_interval`` as a *suppressed* Notification, marks the
events evaluated, and queues the deliveries once all of that is committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from events.models import SecurityEvent
from kcs.queueing import enqueue_on_commit
from notifications.models import Notification, NotificationStatus, RepeatMark

logger = logging.getLogger(__name__)

# Rows per upsert statement (5 parameters each: well under every backend's parameter limit).
UPSERT_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EventRow:
    """The fields of an event that matching and planning read: loading only these keeps a 1,000-event batch cheap
    (full model instances cost more than the matching itself)."""

    id: int
    batch_id: uuid.UUID
    fingerprint: str
    type: str
    severity: int
    cluster: str
    namespace: str
    registry: str
    repository: str


EVENT_ROW_FIELDS = [f.name for f in EventRow.__dataclass_fields__.values()]


@dataclass
class Evaluation:
    """What one evaluation did (for logs, tests and the bench)."""

    events: int = 0
    pending: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)


def claim_fingerprints(
    keys: Iterable[tuple[int, int, str]], intervals: dict[int, int], now: datetime
) -> set[tuple[int, int, str]]:
    """The (policy, integration, fingerprint) keys that may be notified now; the others are still quiet.

    One conditional upsert: a key is claimed when it has no mark yet or its quiet period is over, and claiming
    sets its new quiet period (``intervals[policy_id]`` seconds). Two transactions claiming the same key serialise
    on its row, and the second sees the first one's quiet period: race-safe without explicit locks. Keys are
    sorted so that concurrent claims lock rows in the same order (no deadlocks).
    """
    table = connection.ops.quote_name(RepeatMark._meta.db_table)
    ordered = sorted(set(keys))
    quiet = [now + timedelta(seconds=intervals[policy_id]) for policy_id, _, _ in ordered]
    upsert = (
        "ON CONFLICT (policy_id, integration_id, fingerprint) DO UPDATE "
        "SET notified_at = excluded.notified_at, quiet_until = excluded.quiet_until "
        f"WHERE {table}.quiet_until <= excluded.notified_at "
        "RETURNING policy_id, integration_id, fingerprint"
    )
    claimed: set[tuple[int, int, str]] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Arrays: one statement and five parameters however many keys a large batch has.
            policy_ids, integration_ids, fingerprints = (
                (list(column) for column in zip(*ordered)) if ordered else ([], [], [])
            )
            cursor.execute(
                f"INSERT INTO {table} (policy_id, integration_id, fingerprint, notified_at, quiet_until) "
                "SELECT p, i, f, %s, q FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::timestamptz[]) "
                f"AS u(p, i, f, q) {upsert}",
                [now, policy_ids, integration_ids, fingerprints, quiet],
            )
            claimed.update((int(p), int(i), f) for p, i, f in cursor.fetchall())
            return claimed
        adapt = connection.ops.adapt_datetimefield_value
        for start in range(0, len(ordered), UPSERT_CHUNK):
            chunk = ordered[start : start + UPSERT_CHUNK]
            params: list = []
            for (policy_id, integration_id, fingerprint), until in zip(chunk, quiet[start : start + UPSERT_CHUNK]):
                params += [policy_id, integration_id, fingerprint, adapt(now), adapt(until)]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (policy_id, integration_id, fingerprint, notified_at, quiet_until) "
                f"VALUES {values} {upsert}",
                params,
            )
            claimed.update((int(p), int(i), f) for p, i, f in cursor.fetchall())
    return claimed


def link_events(pairs: list[tuple[int, int]]) -> None:
    """Store (notification id, event id) rows of the notifications' events in as few statements as possible."""
    Through = Notification.events.through
    if connection.vendor == "postgresql" and pairs:
        table = connection.ops.quote_name(Through._meta.db_table)
        notification_ids, event_ids = (list(column) for column in zip(*pairs))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (notification_id, securityevent_id) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                [notification_ids, event_ids],
            )
        return
    Through.objects.bulk_create([Through(notification_id=n, securityevent_id=e) for n, e in pairs], batch_size=2000)


def evaluate_batch(batch_id: str) -> Evaluation:
    """Evaluate the batch's not-yet-evaluated events and queue their notifications (idempotent)."""
    from notifications.tasks import deliver
    from policies.engine import get_index

    index = get_index()
    result = Evaluation()
    with transaction.atomic():
        events = [
            EventRow(**row)
            for row in SecurityEvent.objects.select_for_update()
            .filter(batch_id=batch_id, evaluated_at__isnull=True)
            .order_by("id")
            .values(*EVENT_ROW_FIELDS)
        ]
        if not events:
            return result
        now = timezone.now()
        plans = _plan(index.match_batch(events), now)
        notifications = [plan.notification for plan in plans]
        Notification.objects.bulk_create(notifications)
        link_events([(plan.notification.pk, event.id) for plan in plans for event in plan.events])
        # The rows locked above: exactly the batch's events not evaluated yet.
        SecurityEvent.objects.filter(batch_id=batch_id, evaluated_at__isnull=True).update(evaluated_at=now)
        result.events = len(events)
        for notification in notifications:
            if notification.status == NotificationStatus.PENDING:
                result.pending.append(notification.pk)
                enqueue_on_commit(deliver, notification.pk)
            else:
                result.suppressed.append(notification.pk)
    logger.info(
        "batch %s: %d events evaluated, %d notifications queued, %d suppressed",
        batch_id,
        result.events,
        len(result.pending),
        len(result.suppressed),
    )
    return result


@dataclass
class _Plan:
    notification: Notification
    events: list[EventRow]


def _plan(matches, now: datetime) -> list[_Plan]:
    """One pending Notification per (policy, integration) for events due, one suppressed one for the repeats."""
    # Names double as an existence check: an integration deleted since the index was compiled is skipped.
    names = _integration_names({i for policy, _ in matches for i in policy.integration_ids})
    targets = [(policy, matched, [i for i in policy.integration_ids if i in names]) for policy, matched in matches]
    intervals = {policy.id: policy.repeat_interval for policy, _ in matches}
    keys = [
        (policy.id, integration_id, event.fingerprint)
        for policy, matched, integration_ids in targets
        for integration_id in integration_ids
        for event in matched
    ]
    due = claim_fingerprints(keys, intervals, now) if keys else set()
    plans: list[_Plan] = []
    for policy, matched, integration_ids in targets:
        for integration_id in integration_ids:
            fresh = [e for e in matched if (policy.id, integration_id, e.fingerprint) in due]
            repeats = [e for e in matched if (policy.id, integration_id, e.fingerprint) not in due]
            for status, chosen in ((NotificationStatus.PENDING, fresh), (NotificationStatus.SUPPRESSED, repeats)):
                if chosen:
                    plans.append(
                        _Plan(
                            Notification(
                                policy_id=policy.id,
                                policy_name=policy.name,
                                integration_id=integration_id,
                                integration_name=names[integration_id],
                                batch_id=chosen[0].batch_id,
                                status=status,
                                next_attempt_at=now,
                                created_at=now,
                                idempotency_key=uuid.uuid4().hex,
                            ),
                            chosen,
                        )
                    )
    return plans


def _integration_names(ids: set[int]) -> dict[int, str]:
    from notifications.models import NotificationIntegration

    return dict(NotificationIntegration.objects.filter(pk__in=ids).values_list("id", "name")) if ids else {}
