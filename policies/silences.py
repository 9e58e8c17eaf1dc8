"""Writing silences: create, edit (as a new version) and expire, each in one transaction with its security event
log entry. The screens and the API call these; :mod:`policies.silence_rules` checks every input alike.

A silence row is never deleted and never changed except to end it: editing stores a new version that ``replaces``
the old one and expires the old one at the same moment, so the history of what was silenced, when and why stays.
Each transaction locks the silences' revision row first (one change at a time) and renews it through the save
signal (:mod:`policies.silence_index`), so every process sees the change exactly when it is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from kcs import audit
from kcs.models import AuditAction
from kcs.revisions import SILENCE_INDEX, lock_revision
from kcs.visibility import Visibility, visibility_of
from policies.models import ResponsePolicy, Silence, SilenceState
from policies.silence_rules import check_silence
from policies.validation import ValidationFailed

VALUES = ("matchers", "policies", "starts_at", "ends_at", "comment")


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(silence: Silence) -> dict[str, Any]:
    """A silence as the security event log shows it (policies by name, times in ISO 8601)."""
    names = dict(ResponsePolicy.objects.filter(pk__in=silence.policies).values_list("pk", "name"))
    return {
        "matchers": dict(silence.matchers),
        "policies": [names.get(pk, f"#{pk} (deleted)") for pk in silence.policies] or "every policy",
        "starts_at": _moment(silence.starts_at),
        "ends_at": _moment(silence.ends_at),
        "comment": silence.comment,
    }


def silence_values(silence: Silence) -> dict[str, Any]:
    """The stored values of ``silence`` in the shape :func:`create_silence` takes (a base for a new version)."""
    return {key: getattr(silence, key) for key in VALUES}


def _user(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _store(request, values: dict[str, Any], replaces: Silence | None = None) -> Silence:
    silence = Silence(**values, created_by=_user(request), replaces=replaces)
    silence.save()
    changes = audit.diff({}, snapshot(silence))
    if replaces is not None:
        changes["replaces"] = [None, replaces.pk]
    audit.record(request, AuditAction.CREATE, silence, changes)
    return silence


def _visibility(request) -> Visibility | None:
    """The person's visibility (their silences must lie inside their scopes); None for system jobs."""
    return visibility_of(request) if _user(request) is not None else None


def create_silence(request, values: dict[str, Any]) -> Silence:
    """Create a silence from ``{matchers, policies, starts_at, ends_at | duration, comment}``.

    Raises :class:`ValidationFailed` with field-level messages; then nothing is stored.
    """
    now = timezone.now()
    cleaned = check_silence(values, now, _visibility(request))
    with transaction.atomic():
        lock_revision(SILENCE_INDEX)
        return _store(request, cleaned)


def _end(request, silence: Silence, now: datetime, extra: dict[str, Any] | None = None) -> None:
    """End ``silence`` at ``now`` (a pending one never starts) and log it."""
    before = {"ends_at": _moment(silence.ends_at), "state": silence.state_at(now)}
    if silence.starts_at > now:
        silence.starts_at = now
    silence.ends_at = silence.expired_at = now
    silence.save(update_fields=["starts_at", "ends_at", "expired_at"])
    changes = audit.diff(before, {"ends_at": _moment(now), "state": SilenceState.EXPIRED})
    audit.record(request, AuditAction.UPDATE, silence, changes | (extra or {}))


def _locked(silence: Silence) -> Silence:
    return Silence.objects.select_for_update().get(pk=silence.pk)


def update_silence(request, silence: Silence, values: dict[str, Any]) -> Silence:
    """Store a new version of ``silence`` with ``values`` changed (the others as stored) and expire the old one.

    The new version starts when asked, else when the old one did if that is still ahead, else now. Refused
    (:class:`ValidationFailed`) for a version already replaced: edit the newest one.
    """
    now = timezone.now()
    with transaction.atomic():
        lock_revision(SILENCE_INDEX)
        current = _locked(silence)
        newer = Silence.objects.filter(replaces=current).values_list("pk", flat=True).first()
        if newer is not None:
            raise ValidationFailed(
                {"non_field_errors": [f"Silence #{current.pk} was replaced by #{newer}: edit the newest version."]}
            )
        merged = silence_values(current)
        merged["starts_at"] = current.starts_at if current.starts_at > now else None
        if "duration" in values or "ends_at" in values:
            merged.pop("ends_at")
        merged.update(values)
        cleaned = check_silence(merged, now, _visibility(request), kept_policies=current.policies)
        if current.state_at(now) != SilenceState.EXPIRED:
            _end(request, current, now)
        try:
            created = _store(request, cleaned, replaces=current)
        except IntegrityError:  # another edit of the same version won the race
            raise ValidationFailed(
                {"non_field_errors": [f"Silence #{current.pk} was just replaced: edit the newest version."]}
            ) from None
    silence.refresh_from_db()
    return created


def expire_silence(request, silence: Silence) -> bool:
    """End ``silence`` now; returns whether it changed (an expired silence stays as it is, and logs nothing)."""
    now = timezone.now()
    with transaction.atomic():
        lock_revision(SILENCE_INDEX)
        current = _locked(silence)
        if current.state_at(now) == SilenceState.EXPIRED:
            return False
        _end(request, current, now)
    silence.refresh_from_db()
    return True
