"""The rules a risk acceptance must satisfy: the one place shared by the API, the screens and the admin.

Each entry point hands over what it parsed (JSON values from the API, strings from a form); the functions here
check them and return the values to store, or raise :class:`AcceptanceRefused` with a message per field that names
the rule, so every entry point refuses the same input with the same words and stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max

from events.models import (
    ACCEPTABLE_TYPES,
    MALWARE_NEVER_ACCEPTED_FROM,
    EventType,
    Extent,
    RiskAcceptance,
    SecurityEvent,
    Severity,
)
from events.validation import parse_datetime
from kcs import bounds
from kcs.visibility import Visibility

Errors = dict[str, list[str]]

PERIOD_DAYS_DEFAULT = 30
PERIOD_DAYS_MAX = 3650  # ten years; longer is what "unlimited" is for
REASON_MAX = 2000
PERIOD_KEYS = ("period_days", "expires_at", "unlimited")
TEXT_LIMITS = {
    name: RiskAcceptance._meta.get_field(name).max_length
    for name in ("finding_id", "registry", "repository", "digest", "tag")
}
ACCEPTABLE_LIST = "vulnerability, malware, sensitive data and misconfiguration"
TYPE_RULE = f"Only {ACCEPTABLE_LIST} findings can be accepted"
MALWARE_RULE = "Malware of High or Critical severity can never be accepted"
REQUIRED = "This field is required."


class AcceptanceRefused(Exception):
    """Raised with field-level messages (``{field: [message, ...]}``); nothing was stored."""

    def __init__(self, errors: Errors):
        super().__init__(errors)
        self.errors = errors

    @property
    def detail(self) -> str:
        field, messages = next(iter(self.errors.items()))
        return f"{field}: {messages[0]}"


@dataclass(frozen=True)
class AcceptanceValues:
    """A checked acceptance: what it covers, why, until when (None: unlimited) and the finding's worst severity."""

    type: str
    finding_id: str
    extent: str
    registry: str
    repository: str
    digest: str
    tag: str
    reason: str
    expires_at: datetime | None
    severity: int | None

    @property
    def key(self) -> dict[str, str]:
        """What makes "the same finding and extent": accepting it again updates the open acceptance."""
        return {
            "type": self.type,
            "finding_id": self.finding_id,
            "extent": self.extent,
            "registry": self.registry,
            "repository": self.repository,
            "digest": self.digest,
            "tag": self.tag,
        }


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _text(data: Mapping, field: str, errors: Errors, limit: int) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        _add(errors, field, "Must be a string.")
        return ""
    value = value.strip()
    if len(value) > limit:
        _add(errors, field, f"Ensure this field has no more than {limit} characters.")
    elif problem := bounds.text_problem(value):
        _add(errors, field, problem)
    return value


def type_problem(kind: Any) -> str | None:
    """Why findings of type ``kind`` cannot be accepted, or None."""
    if kind in ACCEPTABLE_TYPES:
        return None
    if kind in EventType.values:
        return f"{TYPE_RULE}; “{EventType(kind).label.lower()}” findings cannot."
    return f"{TYPE_RULE}: use one of {', '.join(ACCEPTABLE_TYPES)}."


def worst_severity(kind: str, finding_id: str) -> int | None:
    """The worst severity stored for the finding (None when no event of it was stored)."""
    return SecurityEvent.objects.filter(type=kind, finding_id=finding_id).aggregate(worst=Max("severity"))["worst"]


def malware_problem(kind: str, severity: int | None) -> str | None:
    if kind == EventType.MALWARE and severity is not None and severity >= MALWARE_NEVER_ACCEPTED_FROM:
        return f"{MALWARE_RULE}: this malware was reported as {Severity(severity).label}."
    return None


def event_problem(event: SecurityEvent) -> str | None:
    """Why the risk of ``event`` cannot be accepted (the screens do not offer it then), or None."""
    if problem := type_problem(event.type):
        return problem
    if not event.finding_id:
        return "The event names no finding (CVE, malware name, rule) to accept."
    return malware_problem(event.type, event.severity)


def _flag(value: Any) -> bool | None:
    """A boolean from JSON (true/false) or a form ("on", "true", "1", ""); None when it is neither."""
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    if isinstance(value, str) and value.lower() in ("on", "true", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("off", "false", "0", "no"):
        return False
    return None


def check_period(data: Mapping, now: datetime, errors: Errors, *, required: bool) -> datetime | None:
    """The end of the period from ``period_days`` (from now), ``expires_at`` or ``unlimited`` (None: unlimited).

    At most one of them; none gives :data:`PERIOD_DAYS_DEFAULT` days, or an error when ``required``.
    """
    unlimited = _flag(data.get("unlimited"))
    if unlimited is None:
        _add(errors, "unlimited", "Must be true or false.")
    given = [
        key
        for key in PERIOD_KEYS
        if (key == "unlimited" and unlimited) or (key != "unlimited" and data.get(key) not in (None, ""))
    ]
    if len(given) > 1:
        message = f"Give one of period_days, expires_at or unlimited, not several (got {' and '.join(given)})."
        for key in given:
            _add(errors, key, message)
        return None
    if not given:
        if required:
            _add(errors, "period_days", "Give the new end: period_days, expires_at or unlimited.")
            return None
        return now + timedelta(days=PERIOD_DAYS_DEFAULT)
    if unlimited:
        return None
    if "period_days" in given:
        days = data["period_days"]
        if isinstance(days, str) and days.strip().isascii() and days.strip().isdigit() and len(days.strip()) <= 6:
            days = int(days)  # a form's value; "²" is a digit too, and int() refuses thousands of digits
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= PERIOD_DAYS_MAX:
            _add(errors, "period_days", f"Must be a whole number of days from 1 to {PERIOD_DAYS_MAX}.")
            return None
        return now + timedelta(days=days)
    moment = parse_datetime(data["expires_at"])
    if moment is None:
        _add(errors, "expires_at", "Must be an ISO 8601 date-time, e.g. 2026-12-31T18:00:00Z.")
        return None
    moment = bounds.utc_in_range(moment)
    if moment is None:
        _add(errors, "expires_at", bounds.DATE_RANGE_MESSAGE)
        return None
    if moment <= now:
        _add(errors, "expires_at", "Must be in the future: an acceptance that has already ended accepts nothing.")
        return None
    return moment


def check_acceptance(data: Mapping, now: datetime) -> AcceptanceValues:
    """Check a new acceptance (or the same one again); raises :class:`AcceptanceRefused`.

    Fields the extent does not use are dropped: ``image`` keeps registry, repository and digest (or the tag when
    there is no digest), ``repository`` registry and repository, ``all`` none of them.
    """
    if not isinstance(data, Mapping):
        raise AcceptanceRefused({"non_field_errors": ["Expected a JSON object."]})
    errors: Errors = {}
    kind = data.get("type")
    if kind in (None, ""):
        _add(errors, "type", REQUIRED)
    elif problem := type_problem(kind if isinstance(kind, str) else None):
        _add(errors, "type", problem)
    finding_id = _text(data, "finding_id", errors, TEXT_LIMITS["finding_id"])
    if not finding_id and "finding_id" not in errors:
        _add(errors, "finding_id", f"{REQUIRED} Name the finding: a CVE id, malware name or rule.")
    extent = data.get("extent")
    if extent in (None, ""):
        _add(errors, "extent", f"{REQUIRED} One of: {', '.join(Extent.values)}.")
    elif extent not in Extent.values:
        _add(errors, "extent", f"“{extent}” is not an extent; one of: {', '.join(Extent.values)}.")
    place = {name: _text(data, name, errors, TEXT_LIMITS[name]) for name in ("registry", "repository", "digest", "tag")}
    if extent == Extent.ALL:
        place = dict.fromkeys(place, "")
    elif extent == Extent.REPOSITORY:
        place["digest"] = place["tag"] = ""
    elif extent == Extent.IMAGE and place["digest"]:
        place["tag"] = ""  # the digest names the image whatever its tags
    if extent in (Extent.IMAGE, Extent.REPOSITORY) and not place["repository"] and "repository" not in errors:
        _add(errors, "repository", f"{REQUIRED} The extent “{extent}” names a repository.")
    if extent == Extent.IMAGE and not (place["digest"] or place["tag"]) and not {"digest", "tag"} & set(errors):
        _add(errors, "digest", "The extent “image” names the image: give its digest, or its tag when it has none.")
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        _add(errors, "reason", "Must be a string.")
        reason = ""
    elif not reason or not reason.strip():
        _add(errors, "reason", "A reason is required: say why the risk is accepted.")
        reason = ""
    else:
        reason = reason.strip()
        if len(reason) > REASON_MAX:
            _add(errors, "reason", f"Ensure this field has no more than {REASON_MAX} characters.")
        elif problem := bounds.text_problem(reason):
            _add(errors, "reason", problem)
    expires_at = check_period(data, now, errors, required=False)
    severity = None
    if "type" not in errors and "finding_id" not in errors:
        severity = worst_severity(kind, finding_id)
        if problem := malware_problem(kind, severity):
            _add(errors, "type", problem)
    if errors:
        raise AcceptanceRefused(errors)
    return AcceptanceValues(kind, finding_id, extent, **place, reason=reason, expires_at=expires_at, severity=severity)


# Where an acceptance's values sit for Visibility.contains() (the same names as ACCEPTANCE_FIELDS).
_PLACE_FIELDS = {"registry": "registry", "repository": "repository"}
GLOBAL_EXTENT_RULE = (
    "Every image includes images outside your scopes: only a holder of the Global scope can accept a risk on every "
    "image. Choose this image or its repository."
)


def check_in_scope(values: AcceptanceValues, visibility: Visibility) -> None:
    """Refuse (:class:`AcceptanceRefused`) an acceptance beyond what the person sees: an image or repository outside
    their active scopes, or every image without holding the Global scope."""
    if values.extent == Extent.ALL:
        if not visibility.holds_global:
            raise AcceptanceRefused({"extent": [GLOBAL_EXTENT_RULE]})
        return
    place = {"registry": values.registry, "repository": values.repository}
    if not visibility.contains(place, _PLACE_FIELDS):
        name = "/".join(part for part in (values.registry, values.repository) if part)
        raise AcceptanceRefused(
            {"repository": [f"{name} is outside your scopes: you can accept risks only on images in them."]}
        )


def check_new_end(data: Mapping, now: datetime) -> datetime | None:
    """The new end of an acceptance being extended or shortened; raises :class:`AcceptanceRefused`."""
    if not isinstance(data, Mapping):
        raise AcceptanceRefused({"non_field_errors": ["Expected a JSON object."]})
    errors: Errors = {}
    expires_at = check_period(data, now, errors, required=True)
    if errors:
        raise AcceptanceRefused(errors)
    return expires_at
