"""Retention: deleting expired rows in short chunks, and the purge of the security event log (audit entries).

Each app purges its own tables — ``events/retention.py`` (events, batches), ``notifications/retention.py``
(notifications, repeat marks) and :func:`purge_audit_log` here — and ``policies/retention.py`` runs them in the
order the foreign keys need, every hour (task ``policies.purge``) and from ``manage.py purge``.

Deletes go ``PURGE_CHUNK`` rows per transaction, each a plain ``DELETE … WHERE id IN (…)``, so no lock, snapshot or
WAL burst is held for long and ingestion goes on beside a large purge; a :class:`Budget` rests between chunks and
stops a scheduled purge in time (the next run goes on where it stopped).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction

from kcs.models import AuditEntry

logger = logging.getLogger(__name__)

PURGE_CHUNK = 5000  # rows per transaction
# After each chunk the purge rests this many times as long as the chunk took: it takes at most about half of one
# database connection's time, and ingestion the rest (bench/retention.py measures the effect on ingest latency).
REST_RATIO = 1.0


@dataclass
class Budget:
    """How long a purge may run (``seconds``; None: to the end) and how much it rests between chunks."""

    seconds: float | None = None
    rest_ratio: float = REST_RATIO
    started: float = field(default_factory=time.monotonic)

    def spent(self) -> bool:
        return self.seconds is not None and time.monotonic() - self.started >= self.seconds

    def rest(self, chunk_seconds: float) -> None:
        if self.rest_ratio > 0 and not self.spent():
            time.sleep(chunk_seconds * self.rest_ratio)


def delete_rows(model: type[models.Model], values: Sequence[Any], field_name: str = "pk") -> int:
    """Delete the rows of ``model`` whose ``field_name`` is one of ``values``, with one statement; returns how many.

    No ORM cascade and no signals: the caller has made sure nothing refers to these rows (a foreign key that still
    does makes the transaction fail, so nothing is lost).
    """
    if not values:
        return 0
    target = model._meta.pk if field_name == "pk" else model._meta.get_field(field_name)
    params = [target.get_db_prep_value(value, connection) for value in values]
    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(target.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({', '.join(['%s'] * len(params))})", params)
        return cursor.rowcount


def delete_in_chunks(
    selection: models.QuerySet,
    *,
    order_by: str = "pk",
    chunk: int = PURGE_CHUNK,
    budget: Budget | None = None,
    before_delete: Callable[[list], Any] | None = None,
) -> int:
    """Delete every row of ``selection``, ``chunk`` rows per transaction; returns how many.

    Each chunk takes the first ``chunk`` rows of ``selection`` in ``order_by`` order: give the time column the
    selection filters on when it has an index, so each chunk starts where the last one ended; with ``"pk"`` the
    chunks go on after the last primary key. ``before_delete(ids)`` runs in the chunk's transaction first (e.g. to
    delete the rows' many-to-many links). Stops early when ``budget`` is spent.
    """
    budget = budget or Budget(rest_ratio=0)
    deleted, last = 0, None
    while not budget.spent():
        started = time.monotonic()
        with transaction.atomic():
            page = selection.order_by(order_by)
            if order_by == "pk" and last is not None:
                page = page.filter(pk__gt=last)
            ids = list(page.values_list("pk", flat=True)[:chunk])
            if ids and before_delete is not None:
                before_delete(ids)
            deleted += delete_rows(selection.model, ids)
        if len(ids) < chunk:
            break
        last = ids[-1]
        budget.rest(time.monotonic() - started)
    return deleted


def purge_audit_log(
    cutoff: datetime,
    *,
    dry_run: bool = False,
    chunk: int = PURGE_CHUNK,
    budget: Budget | None = None,
    before_delete: Callable[[list], Any] | None = None,
) -> dict[str, int]:
    """Delete the security event log entries made before ``cutoff`` (``KCS_AUDIT_RETENTION_DAYS``);
    ``before_delete(ids)`` lets rows of higher layers that refer to them let go first (SIEM outbox rows)."""
    expired = AuditEntry.objects.filter(timestamp__lt=cutoff)
    if dry_run:
        return {"security event log entries": expired.count()}
    deleted = delete_in_chunks(expired, order_by="timestamp", chunk=chunk, budget=budget, before_delete=before_delete)
    return {"security event log entries": deleted}
