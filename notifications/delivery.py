"""Delivering notifications: claim, render, send, record — and the sweeper that makes sure nothing is lost.

:func:`deliver` claims a row with one conditional UPDATE (pending and due, or in sending with an expired lease),
so two workers never send the same row at once; the claim's lease is renewed while the send is in flight
(:mod:`notifications.lease`); the channel renders and sends; :func:`record_outcome` — the one place that
writes delivery bookkeeping — stores sent, a retry with exponential backoff and jitter (honouring Retry-After),
or a permanent failure. :func:`sweep` re-queues what a lost broker message or a killed worker left behind.

Rate-limited outputs send at most ``rate`` messages a second: each message reserves the next free send slot
(:func:`reserve_slot`) and waits for it. When a slot comes, the newest waiting message of the output takes it and
the message whose slot it was moves to the newer one's later slot (:func:`_newest_first`), so in a burst the
freshest alert goes first, as KCS does. The trade-off: an older message may be passed over again and again while
newer ones keep coming — but only for :data:`NEWEST_FIRST_WAIT`; a message that has waited that long keeps its slot.
Nothing is lost on the way: every swap happens in one transaction, a passed-over message stays pending with a slot
of its own and a task queued for it, and the sweeper picks up any message whose task got lost.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from events.models import SecurityEvent
from kcs.queueing import send_now
from notifications import lease
from notifications.channels import CHANNELS, Channel, Delivery, Message, TransportError, channel_for, http
from notifications.messages import MessageContext, notification_events_by_id
from notifications.metrics import attempt_recorded, timed_attempt
from notifications.models import Notification, NotificationIntegration, NotificationStatus

logger = logging.getLogger(__name__)

DELIVER_TASK = "notifications.deliver"  # the task that delivers one notification (see notifications.tasks)
MAX_ATTEMPTS = 8  # then the notification fails and waits for a person's Retry
BASE_DELAY = 20.0  # seconds before the 2nd attempt; doubled for each further one
MAX_DELAY = 1800.0
JITTER = 0.2  # ±20 %, so outputs that failed together do not retry together
DELIVERY_SOFT_TIME_LIMIT = 60  # seconds; the channel timeouts (connect 5 s, read 10 s) stay well inside
DELIVERY_TIME_LIMIT = 90
# A due row nobody claimed for this long lost its task message.
PENDING_GRACE = timedelta(seconds=60)
SWEEP_LIMIT = 1000  # rows re-queued per sweep, so one sweep never floods the broker
# Celery's countdown and the database clock may disagree slightly: a row due within this much counts as due.
CLOCK_TOLERANCE = timedelta(seconds=1)
# Rate-limit waits up to this long happen inside the task; longer ones reschedule the row for its slot.
INLINE_WAIT = 1.0
# Newer messages of a rate-limited output go first, but a message that has waited this long is passed over no more.
NEWEST_FIRST_WAIT = timedelta(minutes=5)
# After a send, a task goes on with more due messages of the same output: at most this many, for this long,
# loading them DRAIN_CHUNK at a time. Kept short: a draining worker process does not evaluate new events (longer
# drains, e.g. 2 s, doubled the POST-to-webhook latency at 50 events/s), and 0.25 s already amortises the task.
DRAIN_LIMIT = 50
DRAIN_SECONDS = 0.25
DRAIN_CHUNK = 10


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the receiver's Retry-After when it gave
    one, else exponential (20 s, 40 s, 80 s … capped at 30 min) with jitter."""
    if retry_after is not None:
        return retry_after
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(attempts - 1, 0))
    return delay * random.uniform(1 - JITTER, 1 + JITTER)


def _lease_expired(now: datetime) -> Q:
    """Rows in sending whose claim's lease ran out (a row claimed before leases existed: its claim is as old)."""
    return Q(status=NotificationStatus.SENDING) & (
        Q(claimed_until__lt=now)
        | Q(claimed_until__isnull=True) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease.lease()))
    )


def _claimable(now: datetime) -> Q:
    return Q(status=NotificationStatus.PENDING, next_attempt_at__lte=now + CLOCK_TOLERANCE) | _lease_expired(now)


_claim_sql: dict[str, str] = {}


def _claim(notification_id: int, now: datetime) -> bool:
    """Claim one row when it is claimable at ``now`` (:func:`_claimable`: pending and due, or in sending with an
    expired lease): one conditional UPDATE, so two workers never both get it; returns whether this call got it.

    The statement is :func:`_claimable` written out in SQL, composed once per process: every delivery claims, and
    building the same UPDATE through the ORM (Q objects, an F expression) cost more CPU than the database took to
    run it. tests/notifications/test_delivery.py checks that both say the same for every kind of row.
    """
    sql = _claim_sql.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        status, claimed_at, claimed_until = quote("status"), quote("claimed_at"), quote("claimed_until")
        sql = _claim_sql[connection.vendor] = (
            f"UPDATE {quote(Notification._meta.db_table)} SET {status} = %s, {quote('attempts')} = "
            f"{quote('attempts')} + 1, {claimed_at} = %s, {claimed_until} = %s WHERE {quote('id')} = %s AND ("
            f"({status} = %s AND {quote('next_attempt_at')} <= %s) OR ({status} = %s AND ({claimed_until} < %s OR "
            f"({claimed_until} IS NULL AND ({claimed_at} IS NULL OR {claimed_at} < %s)))))"
        )
    adapt = connection.ops.adapt_datetimefield_value
    sending = str(NotificationStatus.SENDING)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                sending,
                adapt(now),
                adapt(lease.lease_until(now)),
                notification_id,
                str(NotificationStatus.PENDING),
                adapt(now + CLOCK_TOLERANCE),
                sending,
                adapt(now),
                adapt(now - lease.lease()),
            ],
        )
        return cursor.rowcount == 1


def deliver(
    notification_id: int,
    *,
    drain: bool = True,
    loaded: Notification | None = None,
    events: list[SecurityEvent] | None = None,
) -> str | None:
    """Send one notification if it can be claimed; returns its new status (None: not claimable, nothing done).

    After a successful send the same task goes on with further due notifications of the same output (see
    :func:`_drain`), so a burst to one output does not pay the per-message task overhead for every message.
    ``drain=False`` skips that: the caller sends the messages it has itself (evaluation's first attempts).
    A caller that has just made the row may pass it as ``loaded`` (with its integration) and its ``events``,
    which saves reading them back; the claim is made all the same.
    """
    started = time.monotonic()
    now = timezone.now()
    if not _claim(notification_id, now):
        return None
    if loaded is None:
        # The log entry of a SIEM row comes along (one query, not two); a policy's row joins on a null key.
        notification = Notification.objects.select_related("integration", "audit_entry").get(pk=notification_id)
    else:  # what the claim above wrote
        notification = loaded
        notification.status, notification.claimed_at = NotificationStatus.SENDING, now
        notification.claimed_until = lease.lease_until(now)
        notification.attempts += 1
    if _holds_slot(notification, now):
        newest = _newest_first(notification, now)
        if newest is not notification:
            notification, events = newest, None
    with lease.keeper.holding([notification]):
        status, channel = _attempt(notification, now, events=events)
    if drain and status == NotificationStatus.SENT and channel is not None and not channel.rate_limit:
        _drain(notification.integration, channel, started)
    return status


@timed_attempt
def _attempt(
    notification: Notification, now: datetime, channel: Channel | None = None, events: list[SecurityEvent] | None = None
) -> tuple[str | None, Channel | None]:
    """Render and send a claimed notification and record the outcome; returns (status, the channel used)."""
    integration = notification.integration
    message: Message | None = None
    try:
        if integration is None:
            raise TransportError("The integration was deleted before this notification was sent.", permanent=True)
        if not integration.enabled:
            raise TransportError(f"The integration “{integration.name}” is disabled.", permanent=True)
        channel = channel or channel_for(integration)
        if channel.rate_limit and not _holds_slot(notification, now):
            slot = reserve_slot(integration.pk, channel.rate_limit, now)
            wait = (slot - timezone.now()).total_seconds()
            if wait > INLINE_WAIT:
                return _defer(notification, slot), channel
            if wait > 0:
                time.sleep(wait)
        message = channel.render(MessageContext.for_notification(notification, events))
        channel.send(message, Delivery(key=notification.idempotency_key, timestamp=int(time.time())))
    except TransportError as exc:
        return record_outcome(notification, message, exc), channel
    except Exception as exc:  # a bug or a time limit must not leave the row in "sending": record and retry
        logger.exception("notification %s: unexpected error while delivering", notification.pk)
        error = TransportError(f"Internal error: {exc.__class__.__name__}")
        return record_outcome(notification, message, error), channel
    return record_outcome(notification, message, None), channel


def _drain(integration: NotificationIntegration, channel: Channel, started: float) -> int:
    """Send further due pending notifications of ``integration`` (which just accepted one); returns how many.

    Bounded by DRAIN_LIMIT messages and DRAIN_SECONDS, and stopped by the first message not sent, so a slow or
    failing output never holds the worker long. Only the same output is drained: the others keep their own tasks.
    Rows are claimed DRAIN_CHUNK at a time (see :func:`_claim_due`); their own task messages then find nothing to
    do, and rows claimed but not attempted when the drain stops are given back at once.
    """
    sent = 0
    while sent < DRAIN_LIMIT and time.monotonic() - started < DRAIN_SECONDS:
        batch = _claim_due(integration, min(DRAIN_CHUNK, DRAIN_LIMIT - sent))
        if not batch:
            break
        with lease.keeper.holding(batch):
            drained, done = _drain_batch(integration, channel, started, batch)
        sent += drained
        if done:
            break
    return sent


def _drain_batch(
    integration: NotificationIntegration, channel: Channel, started: float, batch: list[Notification]
) -> tuple[int, bool]:
    """Attempt the claimed ``batch``; returns (how many were sent, whether the drain must stop)."""
    sent = 0
    events = notification_events_by_id([n.pk for n in batch])
    for index, notification in enumerate(batch):
        if index and time.monotonic() - started >= DRAIN_SECONDS:
            _give_back(batch[index:])
            return sent, True
        notification.integration = integration
        status, _ = _attempt(notification, notification.claimed_at, channel, events.get(notification.pk, []))
        if status != NotificationStatus.SENT:
            _give_back(batch[index + 1 :])
            return sent, True
        sent += 1
    return sent, False


def _claim_due(integration: NotificationIntegration, limit: int) -> list[Notification]:
    """Claim up to ``limit`` due pending rows of ``integration`` in one transaction and return them, claimed.

    Rows another worker holds are skipped (SKIP LOCKED where the database has it), so workers draining the same
    output take different rows instead of queueing behind each other's locks.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                integration=integration,
                status=NotificationStatus.PENDING,
                next_attempt_at__lte=now + CLOCK_TOLERANCE,
                throttled_until__isnull=True,
            )
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids, status=NotificationStatus.PENDING).update(
            status=NotificationStatus.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=now,
            claimed_until=lease.lease_until(now),
        )
    return list(
        Notification.objects.filter(pk__in=ids, status=NotificationStatus.SENDING, claimed_at=now)
        .select_related("audit_entry")
        .order_by("next_attempt_at", "id")
    )


def _give_back(notifications: list[Notification]) -> None:
    """Return claimed rows that were not attempted (not counted as attempts) and queue their tasks again: their
    original task messages may already have found them claimed and done nothing."""
    for notification in notifications:
        if Notification.objects.filter(
            pk=notification.pk, status=NotificationStatus.SENDING, claimed_at=notification.claimed_at
        ).update(status=NotificationStatus.PENDING, attempts=F("attempts") - 1):
            send_now(DELIVER_TASK, notification.pk)


def record_outcome(notification: Notification, message: Message | None, error: TransportError | None) -> str | None:
    """Store the outcome of the attempt that claimed ``notification``; the one place for delivery bookkeeping.

    Written only if the row is still ours (same claim), so a worker that was presumed dead and taken over cannot
    overwrite the newer attempt's outcome. A transient failure is re-queued with backoff until MAX_ATTEMPTS.
    """
    now = timezone.now()
    fields: dict = {"throttled_until": None}
    if message is not None:
        fields.update(subject=message.subject[:500], body=message.body)
    delay = None
    if error is None:
        fields.update(status=NotificationStatus.SENT, sent_at=now, last_error="")
    elif error.permanent:
        fields.update(status=NotificationStatus.FAILED, last_error=error.message)
    elif notification.attempts >= MAX_ATTEMPTS:
        fields.update(
            status=NotificationStatus.FAILED,
            last_error=f"Gave up after {notification.attempts} attempts. Last error: {error.message}",
        )
    else:
        delay = backoff(notification.attempts, error.retry_after)
        fields.update(
            status=NotificationStatus.PENDING, last_error=error.message, next_attempt_at=now + timedelta(seconds=delay)
        )
    updated = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING, claimed_at=notification.claimed_at
    ).update(**fields)
    if not updated:
        logger.warning(
            "notification %s was taken over by another attempt; outcome %r not recorded",
            notification.pk,
            fields.get("status"),
        )
        return None
    attempt_recorded(notification, fields["status"])
    if error is not None:
        logger.info(
            "notification %s attempt %d: %s (%s)",
            notification.pk,
            notification.attempts,
            error.message,
            fields["status"],
        )
    if delay is not None:
        send_now(DELIVER_TASK, notification.pk, countdown=delay)
    return fields["status"]


def _holds_slot(notification: Notification, now: datetime) -> bool:
    return notification.throttled_until is not None and notification.throttled_until <= now + CLOCK_TOLERANCE


class _Raced(Exception):
    """A row changed under the slot swap: the swap is rolled back and the slot holder sends as planned."""


def _newest_first(held: Notification, now: datetime) -> Notification:
    """The notification that sends in the slot ``held`` (claimed) holds: the newest message of the same output that
    waits for a later slot, which is claimed in its place, while ``held`` goes back to pending at that later slot
    (its attempt not counted) with a task queued for it. ``held`` itself when nothing newer waits, or when it has
    waited :data:`NEWEST_FIRST_WAIT` already (so nothing starves)."""
    if held.integration_id is None or held.created_at <= now - NEWEST_FIRST_WAIT:
        return held
    try:
        with transaction.atomic():
            newer = (
                Notification.objects.select_for_update(skip_locked=True)
                .filter(
                    integration_id=held.integration_id,
                    status=NotificationStatus.PENDING,
                    throttled_until__gt=held.throttled_until,
                    created_at__gt=held.created_at,
                )
                .order_by("-created_at", "-id")
                .first()
            )
            if newer is None:
                return held
            later = newer.throttled_until
            taken = Notification.objects.filter(pk=newer.pk, status=NotificationStatus.PENDING).update(
                status=NotificationStatus.SENDING,
                attempts=F("attempts") + 1,
                claimed_at=now,
                claimed_until=lease.lease_until(now),
                throttled_until=held.throttled_until,
                next_attempt_at=held.next_attempt_at,
            )
            given = Notification.objects.filter(
                pk=held.pk, status=NotificationStatus.SENDING, claimed_at=held.claimed_at
            ).update(
                status=NotificationStatus.PENDING,
                attempts=F("attempts") - 1,
                throttled_until=later,
                next_attempt_at=later,
            )
            if not (taken and given):
                raise _Raced
    except _Raced:
        return held
    send_now(DELIVER_TASK, held.pk, countdown=max((later - timezone.now()).total_seconds(), 0.0))
    logger.debug("notification %s gave its send slot to the newer %s", held.pk, newer.pk)
    return Notification.objects.select_related("integration").get(pk=newer.pk)


def reserve_slot(integration_id: int, rate: float, now: datetime) -> datetime:
    """Reserve the next send slot of a rate-limited output and return its time (``now`` when it is free).

    Slots are spaced ``1/rate`` seconds apart and shared by every worker through the integration row.
    """
    with transaction.atomic():
        current = (
            NotificationIntegration.objects.select_for_update()
            .filter(pk=integration_id)
            .values_list("rate_slot_at", flat=True)
            .first()
        )
        slot = max(current or now, now)
        # update(), not save(): a send slot is not a configuration change and must not rebuild the policy index.
        NotificationIntegration.objects.filter(pk=integration_id).update(
            rate_slot_at=slot + timedelta(seconds=1.0 / rate)
        )
    return slot


def _defer(notification: Notification, slot: datetime) -> str | None:
    """Give back the claim (not counted as an attempt) and come back at the reserved slot."""
    updated = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING, claimed_at=notification.claimed_at
    ).update(status=NotificationStatus.PENDING, attempts=F("attempts") - 1, next_attempt_at=slot, throttled_until=slot)
    if updated:
        send_now(DELIVER_TASK, notification.pk, countdown=(slot - timezone.now()).total_seconds())
        return NotificationStatus.PENDING
    return None


def sweep(now: datetime | None = None) -> int:
    """Re-queue notifications left pending (their task message was lost) or in sending with an expired lease
    (their worker died); returns how many. Re-queuing is always safe: delivery claims each row once.

    This is the delivery stage's sweeper; the evaluation stage has its own (:func:`policies.evaluation.sweep`).
    """
    now = now or timezone.now()
    notification_ids = list(
        Notification.objects.filter(
            Q(status=NotificationStatus.PENDING, next_attempt_at__lt=now - PENDING_GRACE) | _lease_expired(now)
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for notification_id in notification_ids:
        send_now(DELIVER_TASK, notification_id)
    if notification_ids:
        logger.info("sweep: re-queued %d notifications", len(notification_ids))
    return len(notification_ids)


def warm_up() -> None:
    """Do once, at a worker process's start, what the first delivery would otherwise pay for: compile every
    kind's message templates (by rendering its test message) and open the thread's HTTP session."""
    http.session()
    for kind, channel_class in CHANNELS.items():
        integration = NotificationIntegration(name=f"warm-up {kind}", kind=kind, config={})
        try:
            channel_class(integration).render(MessageContext.sample(integration, "warm-up"))
        except Exception as exc:  # an output kind that needs configuration to render: it warms on first use
            logger.debug("warm-up of %s templates skipped: %s", kind, exc)
