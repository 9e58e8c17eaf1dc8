"""Recording entries in the security event log.

Call :func:`record` from services (not views) inside the same transaction as the change, so a change and its log
entry are stored together or not at all. ``request`` gives the actor, the source (screen/API/admin) and the address.
Each entry falls in one category (a tab of the log): by its object type (:data:`CATEGORIES`), Administration for
any other (users, groups, tokens, sign-ins). Sign-ins are recorded by :mod:`kcs.signin`, alerts by
``policies/alerts.py``, refused ingest requests by :mod:`kcs.refusals`. Many entries at once go through
:func:`record_many`; entries stored by SQL of one's own must be handed to :func:`written`.

Listeners: an app above this layer that must act on every entry (the SIEM stream of :mod:`notifications.siem`)
registers a callable with :func:`add_listener` in its ``AppConfig.ready()``. Every listener is called with the new
entries inside the transaction that writes them, so whatever it stores (an outbox row) commits or rolls back with
the entry; it must be cheap and must not send anything itself (schedule that with ``transaction.on_commit``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models, transaction

from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource

AuditListener = Callable[[Sequence[AuditEntry]], None]
_listeners: list[AuditListener] = []


def add_listener(listener: AuditListener) -> None:
    """Call ``listener(entries)`` with every batch of entries written from now on (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: AuditListener) -> None:
    """Stop calling ``listener`` (for tests)."""
    if listener in _listeners:
        _listeners.remove(listener)


def written(entries: Sequence[AuditEntry]) -> None:
    """Tell the listeners about ``entries`` (stored, with their ids), inside the transaction that stored them.
    :func:`record` and :func:`record_many` do it; call it after storing entries by SQL of one's own."""
    if entries:
        for listener in list(_listeners):
            listener(entries)


def has_listeners() -> bool:
    """Whether anyone listens (a writer by SQL of its own may skip fetching the new ids otherwise)."""
    return bool(_listeners)


# The category of an entry by its object type; any type not listed is Administration.
CATEGORIES = {
    "response policy": AuditCategory.POLICIES,
    "scope": AuditCategory.POLICIES,
    "silence": AuditCategory.POLICIES,
    "risk acceptance": AuditCategory.POLICIES,
    "notification integration": AuditCategory.INTEGRATIONS,
    "notification": AuditCategory.INTEGRATIONS,
}


def category_of(object_type: str) -> str:
    return CATEGORIES.get(object_type, AuditCategory.ADMINISTRATION)


def source_of(request) -> str:
    """Where a request came from: the admin, the API or the screens."""
    if request is None:
        return AuditSource.SYSTEM
    path = getattr(request, "path", "") or ""
    if path.startswith("/admin/"):
        return AuditSource.ADMIN
    if path.startswith("/api/"):
        return AuditSource.API
    return AuditSource.UI


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    request,
    action: str | AuditAction,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
    *,
    object_type: str | None = None,
    category: str | None = None,
) -> AuditEntry:
    """Store one audit entry for ``obj``; ``changes`` maps a field name to ``[old, new]`` for updates."""
    user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    object_type = object_type or obj._meta.verbose_name
    entry = AuditEntry(
        actor=user,
        actor_name=user.get_username()[:150] if user else "system",
        action=action,
        category=category or category_of(object_type),
        object_type=object_type,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        changes=changes or {},
        source=source_of(request),
        ip_address=client_ip(request),
    )
    # One transaction (joining the caller's when there is one): the entry and what the listeners store go together.
    with transaction.atomic(savepoint=False):
        entry.save(force_insert=True)
        written([entry])
    return entry


def record_many(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Store unsaved ``entries`` in one statement and tell the listeners; for writers of many entries at once."""
    if not entries:
        return []
    with transaction.atomic(savepoint=False):
        stored = AuditEntry.objects.bulk_create(entries)
        written(stored)
    return stored


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose value changed, as ``{field: [old, new]}``."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def as_deleted(snapshot: dict[str, Any]) -> dict[str, list[Any]]:
    """What a deleted object was, in the log's ``{field: [old, new]}`` shape, so it can be recreated."""
    return {field: [value, None] for field, value in snapshot.items()}
