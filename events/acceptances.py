"""Writing risk acceptances: accept, extend or shorten, cancel, and expire; each in one transaction with its entry
in the security event log.

The screens, the API and the admin call these functions with what they parsed; :mod:`events.acceptance_rules`
checks it. Every change locks and renews the ``risk_acceptances`` revision first (:mod:`kcs.revisions`), so changes
happen one at a time and every process's :mod:`events.acceptance_index` sees a change exactly when it is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone

from events import services
from events.acceptance_rules import (
    AcceptanceRefused,
    AcceptanceValues,
    check_acceptance,
    check_in_scope,
    check_new_end,
)
from events.models import (
    SEVERITY_SLUG_BY_VALUE,
    AcceptanceState,
    EventType,
    RiskAcceptance,
    SecurityEvent,
    Severity,
)
from kcs import audit
from kcs.models import AuditAction
from kcs.revisions import ACCEPTANCES, configuration_change, renew_revision
from kcs.visibility import visibility_of

EXPIRY_SOURCE = "kcs"
EXPIRE_LIMIT = 500  # acceptances expired per task run; the next run (a minute later) takes the rest

logger = logging.getLogger(__name__)


def _person(request) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "unlimited"


def snapshot(acceptance: RiskAcceptance) -> dict[str, Any]:
    """An acceptance as the security event log shows it."""
    return {
        "type": acceptance.type,
        "finding_id": acceptance.finding_id,
        "extent": acceptance.extent,
        "image": acceptance.image_reference,
        "reason": acceptance.reason,
        "severity": SEVERITY_SLUG_BY_VALUE.get(acceptance.severity),
        "expires_at": _moment(acceptance.expires_at),
    }


def _check_scope(request, values: AcceptanceValues) -> None:
    """A person accepts only within their scopes (issue 10); the system (no person) is not limited."""
    if _person(request) is not None:
        check_in_scope(values, visibility_of(request))


def _store(request, values: AcceptanceValues, now: datetime, acceptance: RiskAcceptance | None = None):
    """Create the acceptance, or update the open one of the same finding and extent; inside a change."""
    person = _person(request)
    existing = RiskAcceptance.objects.open().select_for_update().filter(**values.key).first()
    target = existing or acceptance or RiskAcceptance()
    before = snapshot(existing) if existing else {}
    for name, value in values.key.items():
        setattr(target, name, value)
    target.reason = values.reason
    target.expires_at = values.expires_at
    target.severity = values.severity
    target.accepted_by = person
    target.accepted_by_name = person.get_username() if person else "system"
    target.accepted_at = now
    target.save()
    audit.record(request, AuditAction.ACCEPT, target, audit.diff(before, snapshot(target)))
    return target, existing is None


def accept(request, data: Mapping, acceptance: RiskAcceptance | None = None) -> tuple[RiskAcceptance, bool]:
    """Accept the risk of a finding on an extent; returns the acceptance and whether it is new.

    Accepting the same finding and extent again updates the open acceptance (new reason, period, and who accepted
    it when) instead of adding a second one. ``acceptance``: an unsaved instance to store (the admin's).
    Raises :class:`AcceptanceRefused`, also for an image or repository outside the person's active scopes and for
    every image without the Global scope; then nothing is stored.
    """
    now = timezone.now()
    values = check_acceptance(data, now)
    _check_scope(request, values)
    with configuration_change(ACCEPTANCES):
        stored, created = _store(request, values, now, acceptance)
        renew_revision(ACCEPTANCES)
    return stored, created


def accept_events(request, events: Iterable[SecurityEvent], data: Mapping) -> list[tuple[RiskAcceptance, bool]]:
    """Accept the risk of each event's finding with the same extent, reason and period (bulk accept from the events
    list); one transaction for all of them, one log entry each. Findings that come back (the same finding and
    extent twice) are accepted once.

    Raises :class:`AcceptanceRefused` naming the event when any of them cannot be accepted; then nothing is stored.
    """
    now = timezone.now()
    checked: dict[tuple, AcceptanceValues] = {}
    for event in events:
        fields = {
            "type": event.type,
            "finding_id": event.finding_id,
            "registry": event.registry,
            "repository": event.repository,
            "digest": event.digest,
            "tag": event.tag,
        }
        try:
            values = check_acceptance({**data, **fields}, now)
            _check_scope(request, values)
        except AcceptanceRefused as refused:
            if event_fields := set(refused.errors) & set(fields):
                errors = {"event": [f"Event {event.pk}: {refused.errors[f][0]}" for f in sorted(event_fields)]}
                raise AcceptanceRefused(errors) from None
            raise
        checked.setdefault(tuple(values.key.values()), values)
    if not checked:
        raise AcceptanceRefused({"event": ["Select at least one event."]})
    results = []
    with configuration_change(ACCEPTANCES):
        for values in checked.values():
            results.append(_store(request, values, now))
        renew_revision(ACCEPTANCES)
    return results


def _refuse_unless_active(acceptance: RiskAcceptance, now: datetime, doing: str) -> None:
    state = acceptance.state_at(now)
    if state == AcceptanceState.CANCELLED:
        when = timezone.localtime(acceptance.cancelled_at).strftime("%Y-%m-%d %H:%M")
        message = f"It was cancelled by {acceptance.cancelled_by_name} on {when}: it cannot be {doing}."
    elif state == AcceptanceState.EXPIRED:
        when = timezone.localtime(acceptance.expires_at).strftime("%Y-%m-%d %H:%M")
        message = f"It expired on {when}: it cannot be {doing}. Accept the risk again instead."
    else:
        return
    raise AcceptanceRefused({"state": [message]})


def extend(request, acceptance: RiskAcceptance, data: Mapping) -> RiskAcceptance:
    """Give an active acceptance a new end (later or earlier): ``period_days`` from now, ``expires_at`` or
    ``unlimited``. Raises :class:`AcceptanceRefused` for a bad end and for a cancelled or expired acceptance."""
    now = timezone.now()
    expires_at = check_new_end(data, now)
    with configuration_change(ACCEPTANCES):
        current = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        _refuse_unless_active(current, now, "extended")
        before = current.expires_at
        acceptance.expires_at = expires_at
        acceptance.save(update_fields=["expires_at", "updated_at"])
        if before != expires_at:
            audit.record(
                request, AuditAction.EXTEND, acceptance, {"expires_at": [_moment(before), _moment(expires_at)]}
            )
            renew_revision(ACCEPTANCES)
    return acceptance


def cancel(request, acceptance: RiskAcceptance) -> RiskAcceptance:
    """Cancel an active acceptance: its findings notify again when next reported. It stays listed, with who
    cancelled it and when. Raises :class:`AcceptanceRefused` when it is cancelled or expired already."""
    now = timezone.now()
    person = _person(request)
    with configuration_change(ACCEPTANCES):
        current = RiskAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        _refuse_unless_active(current, now, "cancelled")
        acceptance.cancelled_at = now
        acceptance.cancelled_by = person
        acceptance.cancelled_by_name = person.get_username() if person else "system"
        acceptance.save(update_fields=["cancelled_at", "cancelled_by", "cancelled_by_name", "updated_at"])
        audit.record(request, AuditAction.CANCEL, acceptance, {"state": ["active", "cancelled"]})
        renew_revision(ACCEPTANCES)
    return acceptance


def expiry_uid(acceptance: RiskAcceptance) -> str:
    """The uid of the expiry event: one per acceptance and end, so a rerun or a second beat stores it once."""
    return f"risk-acceptance:{acceptance.pk}:expired:{int(acceptance.expires_at.timestamp())}"


def expiry_event(acceptance: RiskAcceptance) -> dict[str, Any]:
    """The ``risk_acceptance_expired`` event of an acceptance whose period ended, as the ingest service takes it."""
    severity = SEVERITY_SLUG_BY_VALUE.get(acceptance.severity, Severity.UNKNOWN.slug)
    return {
        "type": EventType.RISK_ACCEPTANCE_EXPIRED,
        "severity": severity,
        "title": f"Risk acceptance expired: {acceptance.finding_id} on {acceptance.extent_label}"[:500],
        "description": acceptance.reason,
        "uid": expiry_uid(acceptance),
        "registry": acceptance.registry,
        "repository": acceptance.repository,
        "digest": acceptance.digest,
        "tag": acceptance.tag,
        "finding_id": acceptance.finding_id,
        "occurred_at": acceptance.expires_at.isoformat(),
        "details": {
            "risk_acceptance": acceptance.pk,
            "threat_type": acceptance.type,
            "extent": acceptance.extent,
            "reason": acceptance.reason,
            "accepted_by": acceptance.accepted_by_name,
            "accepted_at": acceptance.accepted_at.isoformat(),
            "expires_at": acceptance.expires_at.isoformat(),
        },
    }


def expire_due(now: datetime | None = None) -> int:
    """Turn each acceptance whose period has ended into exactly one ``risk_acceptance_expired`` event (through the
    ingest service: the *Risk acceptance expiration* trigger then fires as for any event) and one ``expire`` log
    entry; returns how many. Run every minute by beat (task ``events.expire_acceptances``).

    Safe to run twice at once: each acceptance is re-read under the revision lock and skipped when another run
    recorded its expiry; the event's uid is derived from the acceptance and its end, so it is stored once anyway.
    """
    now = now or timezone.now()
    due = list(RiskAcceptance.objects.due(now).order_by("expires_at", "id").values_list("pk", flat=True)[:EXPIRE_LIMIT])
    expired = 0
    for pk in due:
        with configuration_change(ACCEPTANCES):
            acceptance = RiskAcceptance.objects.due(now).select_for_update().filter(pk=pk).first()
            if acceptance is None:  # expired by another run, cancelled or extended meanwhile
                continue
            acceptance.expiry_recorded_at = now
            acceptance.save(update_fields=["expiry_recorded_at", "updated_at"])
            stored = services.ingest([expiry_event(acceptance)], source=EXPIRY_SOURCE, single=True)
            renew_revision(ACCEPTANCES)
            if not stored.created:  # its event is known already: so is its log entry
                continue
            audit.record(None, AuditAction.EXPIRE, acceptance, {"state": ["active", "expired"]})
        expired += 1
    if expired:
        logger.info("risk acceptances: %d expired", expired)
    return expired
