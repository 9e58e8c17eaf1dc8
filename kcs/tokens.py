"""Issuing and revoking API tokens, each with its entry in the security event log (one transaction)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from kcs import audit
from kcs.models import ApiToken, AuditAction


def _shown(token: ApiToken) -> dict:
    return {
        "name": token.name,
        "user": token.user.get_username(),
        "key prefix": token.key_prefix,
        "expires": token.expires_at.isoformat() if token.expires_at else None,
    }


def issue(request, user, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token of ``user`` and its plain key (shown once); logged as created by the request's user (or system)."""
    with transaction.atomic():
        token, key = ApiToken.issue(user, name, expires_at)
        audit.record(request, AuditAction.CREATE, token, audit.diff({}, _shown(token)))
    return token, key


def revoke(request, token: ApiToken) -> None:
    """Delete ``token`` (clients using it get 401 from now on), logged as revoked."""
    with transaction.atomic():
        audit.record(request, AuditAction.REVOKE, token, {key: [value, None] for key, value in _shown(token).items()})
        token.delete()


def change(request, token: ApiToken, before: dict) -> None:
    """Save a token edited in the admin (name, expiry), logged with what changed."""
    with transaction.atomic():
        token.save()
        changes = audit.diff(before, _shown(token))
        if changes:
            audit.record(request, AuditAction.UPDATE, token, changes)


def snapshot(token: ApiToken) -> dict:
    return _shown(token)
