"""Writing outbox rows in bulk: the link rows between notifications and the events they carry."""

from __future__ import annotations

from django.db import connection

from kcs.pg_arrays import array_literal
from notifications.models import Notification


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
                [array_literal(notification_ids), array_literal(event_ids)],
            )
        return
    Through.objects.bulk_create([Through(notification_id=n, securityevent_id=e) for n, e in pairs], batch_size=2000)
