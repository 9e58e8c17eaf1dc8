"""Recording entries in the security event log.

Call :func:`record` from services (not views) inside the same transaction as the change, so a change and its log
entry are stored together or not at all. ``request`` gives the actor, the source (screen/API/admin) and the address.
Each entry falls in one category (a tab of the log): by its object type (:data:`CATEGORIES`), Administration for
any other (users, groups, tokens, sign-ins). Sign-ins are recorded by :mod:`kcs.signin`, alerts by
``policies/alerts.py``, refused ingest requests by :mod:`kcs.refusals`.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource

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
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        category=category or category_of(object_type),
        object_type=object_type,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        changes=changes or {},
        source=source_of(request),
        ip_address=client_ip(request),
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose value changed, as ``{field: [old, new]}``."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}
