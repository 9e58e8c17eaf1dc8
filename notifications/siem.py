"""The SIEM streams: every security event log entry and, when asked, every stored security event, to SIEM outputs.

A SIEM output is an enabled integration whose channel ``streams`` (the syslog CEF kind) with "Send the security event
log" and/or "Send every security event" on. Delivery is the notifications' own, at least once: the listeners below
store outbox rows (:class:`~notifications.models.Notification` with no policy and ``stream`` set) inside the
transaction that writes the log entry or the events, and queue their delivery once it commits; from there a row is
claimed, rendered, sent and recorded like any notification, retried with backoff and picked up by the sweeper.

- ``audit`` rows: one per (log entry, output), ``audit_entry`` set; written by :func:`on_audit_entries`, which
  :mod:`kcs.audit` calls for every entry (the ``kcs`` layer cannot import this one: it keeps a listener registry
  that :class:`notifications.apps.NotificationsConfig` fills).
- ``events`` rows: one per (ingested batch, output), linked to the batch's new events; written by
  :func:`on_events_stored`, which the ingest service calls through :mod:`events.listeners`.

Each row's idempotency key is derived from what it carries (entry or batch, and the output), so a row is never made
twice; each CEF record carries the entry's or the event's id as ``externalId``, the same on every redelivery.

Both listeners run for every entry and every ingest, so they first ask :func:`targets`: the SIEM outputs, cached per
process and rebuilt only when the integrations' revision (:data:`kcs.revisions.OUTPUTS`, renewed by any change of
an integration: :func:`connect_signals`) moved. With no SIEM output they cost that one primary-key read.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from kcs import revisions
from kcs.models import AuditEntry
from kcs.queueing import send_now
from notifications.channels import CHANNELS, channel_for
from notifications.delivery import DELIVER_TASK
from notifications.models import Notification, NotificationIntegration, NotificationStatus, NotificationStream
from notifications.outbox import link_events

STREAM_LABELS = {NotificationStream.AUDIT: "Security event log", NotificationStream.EVENTS: "Security events"}


@dataclass(frozen=True, slots=True)
class Target:
    """An enabled SIEM output and what it streams."""

    id: int
    name: str
    security_log: bool
    security_events: bool


_lock = threading.Lock()
_cached: tuple[int, tuple[Target, ...]] | None = None


def _build() -> tuple[Target, ...]:
    kinds = [kind for kind, channel in CHANNELS.items() if channel.streams]
    found = []
    for integration in NotificationIntegration.objects.filter(enabled=True, kind__in=kinds).order_by("pk"):
        channel = channel_for(integration)
        if channel.streams_security_log or channel.streams_security_events:
            found.append(
                Target(integration.pk, integration.name, channel.streams_security_log, channel.streams_security_events)
            )
    return tuple(found)


def targets() -> tuple[Target, ...]:
    """The enabled SIEM outputs, as of the integrations' current revision (one primary-key read when cached)."""
    global _cached
    revision = revisions.read_revision(revisions.OUTPUTS)
    cached = _cached
    if cached is not None and cached[0] == revision:
        return cached[1]
    with _lock:
        if _cached is None or _cached[0] != revision:
            _cached = (revision, _build())
        return _cached[1]


def stream_key(stream: str, integration_id: int, subject: object) -> str:
    """The idempotency key of the row of ``stream`` carrying ``subject`` (an entry id, a batch id) to an output."""
    return hashlib.sha256(f"siem:{stream}:{integration_id}:{subject}".encode()).hexdigest()[:32]


def _row(target: Target, stream: str, subject: object, now, **fields) -> Notification:
    return Notification(
        policy=None,
        trigger="",
        trigger_label=STREAM_LABELS[stream],
        integration_id=target.id,
        integration_name=target.name,
        stream=stream,
        status=NotificationStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        idempotency_key=stream_key(stream, target.id, subject),
        **fields,
    )


def _deliver_on_commit(rows: list[Notification]) -> None:
    ids = [row.pk for row in rows]

    def deliver() -> None:
        for notification_id in ids:
            send_now(DELIVER_TASK, notification_id)

    transaction.on_commit(deliver)


def on_audit_entries(entries: Sequence[AuditEntry]) -> None:
    """Store an ``audit`` row per (entry, SIEM output that streams the log); deliver them after the commit."""
    chosen = [target for target in targets() if target.security_log]
    if not chosen or not entries:
        return
    now = timezone.now()
    rows = [
        _row(target, NotificationStream.AUDIT, entry.pk, now, audit_entry_id=entry.pk)
        for entry in entries
        for target in chosen
    ]
    Notification.objects.bulk_create(rows)
    _deliver_on_commit(rows)


def on_events_stored(batch_id: UUID, event_ids: Sequence[int]) -> None:
    """Store an ``events`` row per SIEM output that streams events, carrying the batch's new events."""
    chosen = [target for target in targets() if target.security_events]
    if not chosen or not event_ids:
        return
    now = timezone.now()
    rows = [_row(target, NotificationStream.EVENTS, batch_id, now, batch_id=batch_id) for target in chosen]
    Notification.objects.bulk_create(rows)
    link_events([(row.pk, event_id) for row in rows for event_id in event_ids])
    _deliver_on_commit(rows)


def _on_integration_change(sender, **kwargs) -> None:
    revisions.renew_revision(revisions.OUTPUTS)


def connect_signals() -> None:
    """Renew the integrations' revision on every save or delete of one, whoever makes it (screens, API, admin).
    A bulk ``QuerySet.update()`` sends no signal: call ``kcs.revisions.renew_revision(OUTPUTS)`` after one."""
    post_save.connect(_on_integration_change, sender=NotificationIntegration, dispatch_uid="siem-outputs-save")
    post_delete.connect(_on_integration_change, sender=NotificationIntegration, dispatch_uid="siem-outputs-delete")
