"""Refused ingest requests in the security event log (category *Events*), aggregated so they cannot flood it.

An ingest request (``POST /api/v1/events/`` or ``/api/v1/ingest/<tool>/``) answered with a 4xx — a bad or missing
token (401), a missing right (403), an invalid body (400), too large (413), over its rate (429) — is counted in one
entry per (address, endpoint, status) per ``WINDOW``: the first refusal writes the entry with its reason, the next
ones in the same window only raise its ``requests`` count. At most ``ENTRIES_PER_WINDOW`` entries are made per
window; refusals beyond them (an attacker spreading over many addresses) all go into one more entry for "other
addresses". So the log grows by at most ``ENTRIES_PER_WINDOW + 1`` entries per window, whatever the attack.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from kcs.audit import client_ip
from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource

logger = logging.getLogger(__name__)

# By URL string: the ingest endpoints live in the events app, a layer above this one.
INGEST_PATHS = ("/api/v1/events/", "/api/v1/ingest/")
WINDOW = timedelta(minutes=10)
ENTRIES_PER_WINDOW = 100
OBJECT_TYPE = "ingest endpoint"
OTHER_ADDRESSES = "other addresses"


def is_ingest(request) -> bool:
    return request.method == "POST" and (request.path == INGEST_PATHS[0] or request.path.startswith(INGEST_PATHS[1]))


def window_start(now: datetime) -> datetime:
    seconds = WINDOW.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=now.tzinfo)


def _reason(response) -> str:
    try:
        detail = json.loads(response.content).get("detail", "")
    except (ValueError, AttributeError, TypeError):
        detail = ""
    return str(detail or response.reason_phrase)[:200]


def record_refusal(request, response) -> None:
    """Count one refused ingest request (see the module docstring)."""
    now = timezone.now()
    since = window_start(now)
    address = client_ip(request)
    user = getattr(request, "user", None)
    user = user if user is not None and user.is_authenticated else None
    in_window = AuditEntry.objects.filter(
        category=AuditCategory.EVENTS, action=AuditAction.INGEST_REFUSED, timestamp__gte=since
    )
    with transaction.atomic():
        entry = (
            in_window.select_for_update()
            .filter(ip_address=address, object_repr=request.path[:300], object_id=str(response.status_code))
            .first()
        )
        if entry is None and in_window.count() >= ENTRIES_PER_WINDOW:
            entry = in_window.select_for_update().filter(object_id="other").first()
            if entry is None:
                _create(request, response, now, None, None, OTHER_ADDRESSES, "other")
                return
        if entry is None:
            _create(request, response, now, address, user, request.path, str(response.status_code))
            return
        entry.changes = {
            **entry.changes,
            "requests": int(entry.changes.get("requests", 0)) + 1,
            "last": now.isoformat(),
        }
        entry.save(update_fields=["changes"])


def _create(request, response, now, address, user, what: str, object_id: str) -> None:
    AuditEntry.objects.create(
        timestamp=now,
        actor=user,
        actor_name=user.get_username() if user else "anonymous",
        action=AuditAction.INGEST_REFUSED,
        category=AuditCategory.EVENTS,
        object_type=OBJECT_TYPE,
        object_id=object_id,
        object_repr=what[:300],
        changes={
            "status": response.status_code,
            "reason": _reason(response),
            "requests": 1,
            "window": f"{int(WINDOW.total_seconds() // 60)} min",
        },
        source=AuditSource.API,
        ip_address=address,
    )


class IngestRefusalMiddleware:
    """Outermost, so that refusals by the other middleware (413 for a body too large) are counted too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if 400 <= response.status_code < 500 and response.status_code not in (404, 405) and is_ingest(request):
            try:
                record_refusal(request, response)
            except DatabaseError:  # the refusal stands; failing to count it must not turn it into a 500
                logger.exception("could not record a refused ingest request")
        return response
