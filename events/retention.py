"""Retention of the events app: security events and their batches older than ``KCS_RETENTION_DAYS``.

The purge walks the expired batches oldest first (index on ``EventBatch.received_at``): for a few batches at a time
it deletes their expired events, ``chunk`` per transaction, then the batches left without events. Walking batches
rather than scanning events keeps every statement on an index, however many events are kept.

This app does not know who else refers to its rows: the caller passes ``keep_events`` / ``keep_batches``,
``Exists`` expressions over ``OuterRef("pk")`` that are true for an event or batch still needed (the policies
layer passes "linked to a notification that stays"). A foreign key the caller forgot still fails the chunk's
transaction, so nothing referenced is ever deleted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import reduce
from operator import or_
from uuid import UUID

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from events import insight
from events.models import EventBatch, SecurityEvent
from kcs.retention import PURGE_CHUNK, Budget, delete_rows


def _without(queryset: QuerySet, keep: Sequence[Exists]) -> QuerySet:
    for expression in keep:
        queryset = queryset.exclude(expression)
    return queryset


def purge_events(
    cutoff: datetime,
    *,
    keep_events: Sequence[Exists] = (),
    keep_batches: Sequence[Exists] = (),
    dry_run: bool = False,
    chunk: int = PURGE_CHUNK,
    budget: Budget | None = None,
) -> dict[str, int]:
    """Delete the events received before ``cutoff`` and their batches, except what ``keep_events`` /
    ``keep_batches`` keep (and a batch with events left); returns how many of each."""
    budget = budget or Budget(rest_ratio=0)
    expired = SecurityEvent.objects.filter(received_at__lt=cutoff)
    if dry_run:
        staying_events = SecurityEvent.objects.filter(reduce(or_, keep_events, Q(received_at__gte=cutoff)))
        batches = _without(EventBatch.objects.filter(received_at__lt=cutoff), keep_batches).exclude(
            Exists(staying_events.filter(batch=OuterRef("pk")))
        )
        return {
            "events": _without(expired, keep_events).count(),
            "event batches": batches.count(),
            **insight.purge(cutoff, dry_run=True),
        }
    deleted = {"events": 0, "event batches": 0}
    for group in _expired_batch_groups(cutoff, chunk):
        if budget.spent():
            break
        deletable = _without(expired.filter(batch_id__in=group), keep_events)
        while not budget.spent():
            started = time.monotonic()
            with transaction.atomic():
                ids = list(deletable.values_list("pk", flat=True)[:chunk])
                deleted["events"] += delete_rows(SecurityEvent, ids)
            budget.rest(time.monotonic() - started)
            if len(ids) < chunk:
                break
        with transaction.atomic():
            emptied = _without(EventBatch.objects.filter(id__in=group), keep_batches).exclude(
                Exists(SecurityEvent.objects.filter(batch=OuterRef("pk")))
            )
            deleted["event batches"] += delete_rows(EventBatch, list(emptied.values_list("pk", flat=True)))
    if not budget.spent():
        deleted.update(insight.purge(cutoff))
    return deleted


def _expired_batch_groups(cutoff: datetime, chunk: int) -> Iterator[list[UUID]]:
    """The ids of batches received before ``cutoff``, oldest first, in groups of about ``chunk`` events (a group
    holds at least one batch). Read ``chunk`` batches at a time after the last one read, so batches that are kept
    are not read again."""
    expired = EventBatch.objects.filter(received_at__lt=cutoff).order_by("received_at", "id")
    last: tuple[datetime, UUID] | None = None
    while True:
        page = expired
        if last is not None:
            page = page.filter(received_at__gte=last[0]).exclude(received_at=last[0], id__lte=last[1])
        rows = list(page.values_list("received_at", "id", "created")[:chunk])
        group: list[UUID] = []
        events = 0
        for _, batch_id, created in rows:
            if group and events + created > chunk:
                yield group
                group, events = [], 0
            group.append(batch_id)
            events += created
        if group:
            yield group
        if len(rows) < chunk:
            return
        last = rows[-1][:2]
