"""Evaluation of ingested events against response policies: a batch in, Notification rows out.

:func:`evaluate_batch` runs after the ingest transaction committed (task ``policies.evaluate_batch``). In one
transaction it takes the batch's events that were never evaluated (locked, so a redelivered task waits and then
finds nothing), matches them against the cached policy index, creates one Notification per (policy, integration)
listing its events, records repeats inside a policy's ``repeat_interval`` as a *suppressed* Notification and marks
the events evaluated. Once that is committed, :func:`first_deliveries` hands the new notifications to delivery.

The fast path: a notification whose output is not rate-limited gets its first delivery attempt right here, in the
worker that evaluated it, with no second trip through the broker. Everything else about delivery stays as it is:
the outbox row, the atomic claim, retries with backoff, and the sweeper, which re-queues a row this worker did not
get to (killed, or out of its time budget) after ``PENDING_GRACE``. Rate-limited outputs and whatever is left when
the budget runs out are queued as ``notifications.deliver`` tasks.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from events.models import EventBatch, SecurityEvent
from events.services import EVALUATE_TASK
from kcs.pg_arrays import array_literal, insert_columns
from kcs.queueing import send_now
from notifications import delivery
from notifications.channels import Channel, channel_for
from notifications.messages import UNUSED_IN_MESSAGES
from notifications.models import Notification, NotificationIntegration, NotificationStatus, RepeatMark
from notifications.outbox import link_events
from policies import alerts, metrics, muting
from policies.engine import CompiledPolicy
from policies.index_cache import get_index
from policies.models import Trigger

logger = logging.getLogger(__name__)

# First delivery attempts made in the evaluating worker stop after this long; the rest are queued (one slow or
# unreachable output must not hold back the others, which other worker processes can then send in parallel).
FAST_PATH_SECONDS = 0.5
# An event nobody evaluated for this long lost its task message: the sweeper queues its batch again.
EVALUATION_GRACE = timedelta(seconds=60)
SWEEP_LIMIT = 1000  # batches re-queued per sweep, so one sweep never floods the broker

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
    # What risk acceptances and silences match on (policies.muting).
    tag: str
    digest: str
    finding_id: str
    source: str
    title: str


EVENT_ROW_FIELDS = [f.name for f in EventRow.__dataclass_fields__.values()]


@dataclass
class Evaluation:
    """What one evaluation did (for logs, tests and the bench)."""

    events: int = 0
    pending: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    muted: list[int] = field(default_factory=list)
    # Pending notifications whose output takes them as fast as we send (no rate limit): sent by the fast path.
    unthrottled: set[int] = field(default_factory=set)
    # The rows this evaluation made, with their integration and event ids: the fast path sends them without
    # reading them back.
    made: dict[int, tuple[Notification, list[int]]] = field(default_factory=dict, repr=False)


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
    upsert = (
        "ON CONFLICT (policy_id, integration_id, fingerprint) DO UPDATE "
        "SET notified_at = excluded.notified_at, quiet_until = excluded.quiet_until "
        f"WHERE {table}.quiet_until <= excluded.notified_at "
        "RETURNING policy_id, integration_id, fingerprint"
    )
    claimed: set[tuple[int, int, str]] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Arrays: one statement and five parameters however many keys a large batch has; the quiet period is
            # computed by the server from each key's interval in seconds.
            policy_ids, integration_ids, fingerprints = (
                (list(column) for column in zip(*ordered)) if ordered else ([], [], [])
            )
            seconds = [intervals[policy_id] for policy_id in policy_ids]
            # Keys still quiet are left out before the upsert, by a plain read: the upsert locks every existing row
            # it meets, even one its WHERE then leaves alone, and a lock is a write (with rescans of the same
            # images, most keys of a batch are repeats). Leaving them out is safe: a mark quiet at ``now`` stays
            # so (claims only move a quiet period forward, retention removes only marks no longer quiet).
            cursor.execute(
                f"INSERT INTO {table} (policy_id, integration_id, fingerprint, notified_at, quiet_until) "
                "SELECT p, i, f, %s, %s::timestamptz + make_interval(secs => s) "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::bigint[]) WITH ORDINALITY "
                f"AS u(p, i, f, s, n) WHERE NOT EXISTS (SELECT FROM {table} AS m WHERE m.policy_id = u.p "
                f"AND m.integration_id = u.i AND m.fingerprint = u.f AND m.quiet_until > %s) "
                # In the keys' order whatever join the planner picks (the lock order that prevents deadlocks).
                f"ORDER BY u.n {upsert}",
                [now, now, *map(array_literal, (policy_ids, integration_ids, fingerprints, seconds)), now],
            )
            claimed.update((int(p), int(i), f) for p, i, f in cursor.fetchall())
            return claimed
        adapt = connection.ops.adapt_datetimefield_value
        quiet = [now + timedelta(seconds=intervals[policy_id]) for policy_id, _, _ in ordered]
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


def take_unevaluated(batch_id: str, now: datetime) -> list[EventRow]:
    """Mark the batch evaluated at ``now`` and return its events in id order; none when it already was.

    The conditional update locks the batch row until the caller's transaction ends, so a concurrent evaluation of
    the same batch waits, then finds it evaluated and takes nothing.
    """
    if not EventBatch.objects.filter(pk=batch_id, evaluated_at__isnull=True).update(evaluated_at=now):
        return []
    rows = SecurityEvent.objects.filter(batch_id=batch_id).order_by("id").values_list(*EVENT_ROW_FIELDS)
    return [EventRow(*row) for row in rows]


def evaluate_batch(batch_id: str) -> Evaluation:
    """Evaluate the batch's not-yet-evaluated events; hand the new notifications to delivery once committed.

    Idempotent: a redelivered task finds the events evaluated and only offers the batch's notifications that were
    never attempted to delivery again (their claim makes that safe), which also recovers them quickly when the
    worker that evaluated them died before sending.
    """
    started = time.perf_counter()
    index = get_index()
    result = Evaluation()
    with transaction.atomic():
        now = timezone.now()
        events = take_unevaluated(batch_id, now)
        if events:
            matches = index.match_batch(events)
            # The enabled outputs as of the index's revision; one deleted or disabled since is skipped.
            integrations = {
                i: index.outputs[i] for policy, _ in matches for i in policy.integration_ids if i in index.outputs
            }
            plans = _plan(matches, integrations, now, muting.load(now))
            _store(plans, events[0].batch_id, integrations, now)
            alerts.record_alerts([plan for plan in plans if plan.notification is not None], now)
            metrics.evaluated(started, [(plan.status, integrations[plan.integration_id].kind) for plan in plans])
            result.events = len(events)
            for plan in plans:
                if plan.status == NotificationStatus.PENDING:
                    result.pending.append(plan.pk)
                    channel = integrations[plan.integration_id]
                    if channel.rate_limit is None:
                        result.unthrottled.add(plan.pk)
                        plan.notification.integration = channel.integration
                        result.made[plan.pk] = (plan.notification, [event.id for event in plan.events])
                elif plan.status == NotificationStatus.MUTED:
                    result.muted.append(plan.pk)
                else:
                    result.suppressed.append(plan.pk)
        else:
            _never_attempted(batch_id, result)
        if result.pending:
            transaction.on_commit(lambda: first_deliveries(result))
    if result.events:
        logger.info(
            "batch %s: %d events evaluated, %d notifications queued, %d suppressed, %d muted",
            batch_id,
            result.events,
            len(result.pending),
            len(result.suppressed),
            len(result.muted),
        )
    return result


def _never_attempted(batch_id: str, result: Evaluation) -> None:
    """The batch's pending notifications that no attempt has claimed yet (a redelivered evaluation task)."""
    for pk, kind, config in Notification.objects.filter(
        batch_id=batch_id, status=NotificationStatus.PENDING, attempts=0, integration__isnull=False
    ).values_list("pk", "integration__kind", "integration__config"):
        result.pending.append(pk)
        if channel_for(NotificationIntegration(kind=kind, config=config)).rate_limit is None:
            result.unthrottled.add(pk)


def first_deliveries(result: Evaluation) -> None:
    """Make the first delivery attempts of an evaluation's new notifications (after its commit).

    Unthrottled ones are attempted here, in order, until ``FAST_PATH_SECONDS`` have passed; the rest are queued.
    An attempt claims its row like any delivery task, so a queued task or the sweeper meeting the same row later
    finds it claimed or sent and does nothing.
    """
    started = time.monotonic()
    events = _full_events(result.made)
    for notification_id in result.pending:
        if notification_id in result.unthrottled and time.monotonic() - started < FAST_PATH_SECONDS:
            loaded, event_ids = result.made.get(notification_id, (None, []))
            # No drain: queued messages have tasks of their own, and this worker goes back to evaluating.
            delivery.deliver(
                notification_id,
                drain=False,
                loaded=loaded,
                events=[events[pk] for pk in event_ids if pk in events] if loaded else None,
            )
        else:
            send_now(delivery.DELIVER_TASK, notification_id)


def _full_events(made: dict[int, tuple[Notification, list[int]]]) -> dict[int, SecurityEvent]:
    """The events of the rows the fast path sends, by id (one query; matching read only a few columns)."""
    ids = {pk for _, event_ids in made.values() for pk in event_ids}
    return SecurityEvent.objects.defer(*UNUSED_IN_MESSAGES).in_bulk(ids) if ids else {}


def sweep(now: datetime | None = None) -> int:
    """Re-queue the batches whose events were never evaluated (their task message was lost); returns how many.

    The evaluation stage's sweeper (the delivery stage has :func:`notifications.delivery.sweep`). Re-queuing is
    always safe: evaluation skips events already evaluated.
    """
    now = now or timezone.now()
    batch_ids = list(
        EventBatch.objects.filter(evaluated_at__isnull=True, received_at__lt=now - EVALUATION_GRACE)
        .order_by()
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for batch_id in batch_ids:
        send_now(EVALUATE_TASK, str(batch_id))
    if batch_ids:
        logger.info("sweep: re-queued %d unevaluated batches", len(batch_ids))
    return len(batch_ids)


@dataclass(slots=True)
class _Plan:
    """One Notification row to make: a (policy, integration) pair, the events it covers and what became of them."""

    policy: CompiledPolicy
    integration_id: int
    status: str
    muted_by: str
    events: list[EventRow]
    pk: int | None = None
    # The saved row as a model instance: made for pending rows only (delivery's fast path and the alerts log read
    # it). A batch makes hundreds of suppressed and muted rows that nothing reads back, and building an instance
    # for each cost more than inserting them.
    notification: Notification | None = None


def _plan(matches, integrations: dict[int, Channel], now: datetime, mutes: muting.Mutes) -> list[_Plan]:
    """One pending Notification per (policy, integration) for events due, one suppressed one for the repeats and
    one muted one per acceptance or silence that held events back.

    Muted events are set aside before the repeat interval is claimed: a muted finding must not start a quiet
    period, or it would stay quiet for a while after its silence ends or its acceptance is cancelled.
    """
    # An integration deleted (or disabled) since the index was compiled is skipped.
    targets = []
    # What mutes an event does not depend on the policy: looked up once per event, however many policies matched.
    found: dict[int, muting.Found] = {}
    for policy, matched in matches:
        integration_ids = [i for i in policy.integration_ids if i in integrations]
        heard, held = [], {}
        for event in matched:
            holds = found.get(event.id)
            if holds is None:
                holds = found[event.id] = mutes.lookup(event, now)
            mute = mutes.reason_for(holds, policy.id)
            if mute is None:
                heard.append(event)
            else:
                held.setdefault(mute.reference, []).append(event)
        targets.append((policy, heard, held, integration_ids))
    intervals = {policy.id: policy.repeat_interval for policy, _ in matches}
    keys = [
        (policy.id, integration_id, event.fingerprint)
        for policy, heard, _, integration_ids in targets
        for integration_id in integration_ids
        for event in heard
    ]
    due = claim_fingerprints(keys, intervals, now) if keys else set()
    plans: list[_Plan] = []
    for policy, heard, held, integration_ids in targets:
        for integration_id in integration_ids:
            fresh = [e for e in heard if (policy.id, integration_id, e.fingerprint) in due]
            repeats = [e for e in heard if (policy.id, integration_id, e.fingerprint) not in due]
            groups = [(NotificationStatus.PENDING, "", fresh), (NotificationStatus.SUPPRESSED, "", repeats)]
            groups += [(NotificationStatus.MUTED, reference, events) for reference, events in held.items()]
            plans += [
                _Plan(policy, integration_id, status, muted_by, chosen) for status, muted_by, chosen in groups if chosen
            ]
    return plans


def _store(plans: list[_Plan], batch_id: uuid.UUID, integrations: dict[int, Channel], now: datetime) -> None:
    """Save the plans' Notification rows (setting each plan's ``pk``, and its ``notification`` when pending) and
    link them to their events."""
    labels = {trigger: Trigger(trigger).label for trigger in {plan.policy.trigger for plan in plans}}
    names = {i: channel.integration.name for i, channel in integrations.items()}
    keys = [
        delivery_key(
            batch_id,
            plan.policy.id,
            plan.integration_id,
            f"{plan.status}:{plan.muted_by}" if plan.muted_by else plan.status,
        )
        for plan in plans
    ]

    def notification(plan: _Plan, key: str) -> Notification:
        return Notification(
            policy_id=plan.policy.id,
            policy_name=plan.policy.name,
            trigger=plan.policy.trigger,
            trigger_label=labels[plan.policy.trigger],
            integration_id=plan.integration_id,
            integration_name=names[plan.integration_id],
            batch_id=batch_id,
            status=plan.status,
            muted_by=plan.muted_by,
            next_attempt_at=now,
            created_at=now,
            idempotency_key=key,
        )

    if connection.vendor == "postgresql":
        ids = insert_columns(
            Notification,
            {
                "policy_id": [plan.policy.id for plan in plans],
                "policy_name": [plan.policy.name for plan in plans],
                "trigger": [plan.policy.trigger for plan in plans],
                "trigger_label": [labels[plan.policy.trigger] for plan in plans],
                "integration_id": [plan.integration_id for plan in plans],
                "integration_name": [names[plan.integration_id] for plan in plans],
                "status": [str(plan.status) for plan in plans],
                "muted_by": [plan.muted_by for plan in plans],
                "idempotency_key": keys,
            },
            constants={"batch_id": batch_id, "next_attempt_at": now, "created_at": now},
        )
        for plan, key, pk in zip(plans, keys, ids, strict=True):
            plan.pk = pk
            if plan.status == NotificationStatus.PENDING:
                plan.notification = made = notification(plan, key)
                made.pk, made._state.adding, made._state.db = pk, False, connection.alias
    else:
        made = [notification(plan, key) for plan, key in zip(plans, keys, strict=True)]
        Notification.objects.bulk_create(made)
        for plan, row in zip(plans, made, strict=True):
            plan.pk = row.pk
            if plan.status == NotificationStatus.PENDING:
                plan.notification = row
    link_events([(plan.pk, event.id) for plan in plans for event in plan.events])


def delivery_key(batch_id: uuid.UUID, policy_id: int, integration_id: int, status: str) -> str:
    """The idempotency key of the message for (batch, policy, integration): derived, not random, so evaluating a
    batch again after its first evaluation was lost (a database crash before the commit reached the disk) gives the
    re-made message the key receivers have already seen, and they can drop the duplicate."""
    return hashlib.sha256(f"{batch_id}:{policy_id}:{integration_id}:{status}".encode()).hexdigest()[:32]
