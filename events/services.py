"""Ingestion of security events: validate everything, store one batch in one transaction, evaluate after commit.

Every way in (``/api/v1/events/``, the native ``/api/v1/ingest/<tool>/`` endpoints, ``manage.py ingest``) ends in
:func:`ingest`, so validation, idempotency and scheduling behave the same everywhere.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from events import insight, listeners, metrics
from events.models import EventBatch, SecurityEvent
from events.storage import insert_events
from events.validation import EventValidationError, clean_events
from kcs.queueing import enqueue_on_commit

# The task that evaluates a stored batch against the response policies (registered by the policies app).
EVALUATE_TASK = "policies.evaluate_batch"

logger = logging.getLogger(__name__)

# The parts of an event that make "the same finding on the same resource" (for repeat suppression).
FINGERPRINT_FIELDS = (
    "type",
    "registry",
    "repository",
    "tag",
    "cluster",
    "namespace",
    "pod",
    "container",
    "node",
    "finding_id",
    "package",
)
IngestValidationError = EventValidationError  # the name adapters and views import


class TooManyEvents(Exception):
    """A request holds more events than its caller allows (``KCS_MAX_EVENTS_PER_REQUEST`` for the API)."""

    def __init__(self, count: int, limit: int):
        self.count = count
        self.limit = limit
        super().__init__(
            f"{count} events in one request; at most {limit} are accepted (KCS_MAX_EVENTS_PER_REQUEST). "
            "Split the report or the list."
        )


@dataclass
class IngestResult:
    """What happened to a request: counts, the batch, and each item's event id (in request order)."""

    received: int
    created: int
    duplicates: int
    batch_id: UUID | None
    ids: list[int] = field(default_factory=list)
    duplicate_indexes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "created": self.created,
            "duplicates": self.duplicates,
            "batch": str(self.batch_id) if self.batch_id else None,
            "ids": self.ids,
            "duplicate_indexes": self.duplicate_indexes,
        }


def fingerprint(data: dict[str, Any]) -> str:
    """Stable hash of type + resource + finding."""
    joined = "\x1f".join(str(data.get(name) or "") for name in FINGERPRINT_FIELDS)
    return hashlib.sha256(joined.encode()).hexdigest()


def ingest(
    items: list[Any], *, source: str, user=None, single: bool = False, max_items: int | None = None
) -> IngestResult:
    """Validate and store ``items`` as one batch; raises :class:`EventValidationError` before any write, and
    :class:`TooManyEvents` for more than ``max_items`` items (None: no limit).

    Items whose ``uid`` this account (``user``; None: no account) already stored, or that repeat a uid within the
    request, are not stored again; their existing ids are returned and their indexes listed in
    ``duplicate_indexes``. The same uid from another account is another event: uids are scoped per account, so
    one sender cannot post another's uid first and have the real event dropped as a duplicate.
    """
    if max_items is not None and len(items) > max_items:
        raise TooManyEvents(len(items), max_items)
    now = timezone.now()
    cleaned = clean_events(items, source, now, single=single)
    for data in cleaned:
        data["fingerprint"] = fingerprint(data)
    try:
        return _store(cleaned, source, user, now)
    except IntegrityError:
        # Another request stored one of our uids between our check and our insert: re-check once and store the rest.
        logger.info("uid conflict while ingesting %d events; retrying once", len(cleaned))
        return _store(cleaned, source, user, now)


def _store(cleaned: list[dict[str, Any]], source: str, user, now) -> IngestResult:
    sender = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        uids = [d["uid"] for d in cleaned if d["uid"]]
        known: dict[str, int] = {}
        if uids:
            mine = SecurityEvent.objects.filter(created_by=sender, uid__in=set(uids))  # None: IS NULL
            known = dict(mine.values_list("uid", "id"))
        new_rows: list[tuple[int, dict[str, Any]]] = []
        first_index_of_uid: dict[str, int] = {}
        duplicate_of: dict[int, str | int] = {}  # request index -> known id, or uid of an earlier item
        for index, data in enumerate(cleaned):
            uid = data["uid"]
            if uid is not None:
                if uid in known:
                    duplicate_of[index] = known[uid]
                    continue
                if uid in first_index_of_uid:
                    duplicate_of[index] = uid
                    continue
                first_index_of_uid[uid] = index
            new_rows.append((index, data))

        batch = None
        ids: list[int | None] = [None] * len(cleaned)
        if new_rows:
            batch = EventBatch.objects.create(
                source=source,
                received_at=now,
                created_by=sender,
                received=len(cleaned),
                created=len(new_rows),
            )
            sender_id = sender.pk if sender is not None else None
            rows = [
                {**data, "batch_id": batch.id, "created_by_id": sender_id, "received_at": now} for _, data in new_rows
            ]
            new_ids = insert_events(rows)
            for (index, _), event_id in zip(new_rows, new_ids):
                ids[index] = event_id
            # The Overview, Images and Vulnerabilities read models, in the same transaction as the events.
            insight.record(rows, new_ids, batch.id, now)
            # Higher layers that take every stored event (a SIEM stream) store their part in this transaction.
            listeners.stored(batch.id, [ids[index] for index, _ in new_rows])
            # Evaluation is the policies layer's stage: handed off by task name, never imported.
            enqueue_on_commit(EVALUATE_TASK, str(batch.id))
        for index, target in duplicate_of.items():
            ids[index] = target if isinstance(target, int) else ids[first_index_of_uid[target]]
    metrics.events_stored(data for _, data in new_rows)  # stored: a conflict that undid them raised above
    return IngestResult(
        received=len(cleaned),
        created=len(new_rows),
        duplicates=len(duplicate_of),
        batch_id=batch.id if batch else None,
        ids=ids,
        duplicate_indexes=sorted(duplicate_of),
    )
