"""Writing many security events fast.

On PostgreSQL the rows go in with COPY (ids drawn from the table's sequence first, so the caller still learns
each event's id): Django's bulk INSERT spends most of its time quoting parameters in Python, COPY streams them
through psycopg's C dumpers. Other databases (the embedded SQLite) use ``bulk_create``. Either way the rows are
written inside the caller's transaction. Small batches (a single event from a CI job) use one INSERT.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from events.models import SecurityEvent

COLUMNS = [f.column for f in SecurityEvent._meta.concrete_fields if f.column != "id"]
ATTRIBUTES = [f.attname for f in SecurityEvent._meta.concrete_fields if f.column != "id"]
# Below this many rows one INSERT … RETURNING is cheaper than drawing ids and opening a COPY.
COPY_THRESHOLD = 50
JSON_ATTRIBUTES = {f.attname for f in SecurityEvent._meta.concrete_fields if f.get_internal_type() == "JSONField"}


def insert_events(rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (model attribute → value, ``batch_id`` included) and return their ids in order."""
    if not rows:
        return []
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        return _copy_rows(rows)
    events = [SecurityEvent(**row) for row in rows]
    SecurityEvent.objects.bulk_create(events, batch_size=500)
    return [event.pk for event in events]


def _copy_rows(rows: list[dict[str, Any]]) -> list[int]:
    table = SecurityEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(rows)]
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(connection.ops.quote_name(c) for c in ["id", *COLUMNS])
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN") as copy:
            for event_id, row in zip(ids, rows):
                copy.write_row(
                    [event_id]
                    + [
                        json.dumps(row.get(name) or {}) if name in JSON_ATTRIBUTES else row.get(name)
                        for name in ATTRIBUTES
                    ]
                )
    return ids
