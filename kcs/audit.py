"""Recording entries in the security event log.

Call :func:`record` from services (not views) inside the same transaction as the change, so a change and its log
entry are stored together or not at all. ``request`` gives the actor, the source (screen/API/admin) and the address.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from kcs.models import AuditAction, AuditEntry, AuditSource


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
) -> AuditEntry:
    """Store one audit entry for ``obj``; ``changes`` maps a field name to ``[old, new]`` for updates."""
    user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username()[:150] if user else "system",
        action=action,
        object_type=object_type or obj._meta.verbose_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        changes=changes or {},
        source=source_of(request),
        ip_address=client_ip(request),
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose value changed, as ``{field: [old, new]}``."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def as_deleted(snapshot: dict[str, Any]) -> dict[str, list[Any]]:
    """What a deleted object was, in the log's ``{field: [old, new]}`` shape, so it can be recreated."""
    return {field: [value, None] for field, value in snapshot.items()}
