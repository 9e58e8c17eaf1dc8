"""Validation of incoming security events, fast enough for 5,000-item requests.

A hand-written validator rather than a DRF serializer per item: it gives the same field-level messages at a
fraction of the cost (the serializer machinery dominated ingest time). Each item is checked completely, so a client
sees every problem of the first bad items at once.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from events.models import EventType, SecurityEvent, Severity

EVENT_TYPES = frozenset(EventType.values)
SEVERITY_BY_SLUG = {s.label.lower(): int(s) for s in Severity}
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
MAX_REPORTED_ITEMS = 50  # items with errors listed in one response; the count says how many there were

# Optional text fields and their column limits, taken from the model so the two never disagree.
TEXT_FIELDS = {
    name: SecurityEvent._meta.get_field(name).max_length
    for name in (
        "registry",
        "repository",
        "tag",
        "digest",
        "cluster",
        "namespace",
        "pod",
        "container",
        "node",
        "finding_id",
        "package",
        "installed_version",
        "fixed_version",
    )
}
TITLE_MAX = SecurityEvent._meta.get_field("title").max_length
UID_MAX = SecurityEvent._meta.get_field("uid").max_length
SOURCE_MAX = SecurityEvent._meta.get_field("source").max_length
DESCRIPTION_MAX = 20_000
# PostgreSQL text and jsonb cannot hold NUL characters; refuse them here rather than fail at insert time.
NUL_MESSAGE = "Must not contain NUL (\\u0000) characters."


class EventValidationError(Exception):
    """The request holds invalid events; ``errors`` maps item index (None for a single object) to field errors."""

    def __init__(self, errors: dict[int | None, dict[str, list[str]]], invalid_count: int):
        super().__init__("invalid events")
        self.errors = errors
        self.invalid_count = invalid_count

    def summary(self) -> str:
        index, fields = next(iter(self.errors.items()))
        field, messages = next(iter(fields.items()))
        where = f"item {index}, " if index is not None else ""
        if self.invalid_count > 1:
            return f"{self.invalid_count} events are invalid; first: {where}{field}: {messages[0]}"
        return f"Invalid event: {where}{field}: {messages[0]}"


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string or a datetime (naive values are taken as UTC); None if invalid."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        # Python's parser takes at most microseconds; Falco and Go tools send nanoseconds.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _text(item: dict, name: str, limit: int, errors: dict) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = ["Must be a string."]
        return ""
    if len(value) > limit:
        errors[name] = [f"Ensure this field has no more than {limit} characters."]
    elif "\x00" in value:
        errors[name] = [NUL_MESSAGE]
    return value


def clean_event(item: Any, default_source: str, now: datetime) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate one incoming event; returns ``(model field values, errors)``. Unknown keys are ignored."""
    if not isinstance(item, dict):
        return {}, {"non_field_errors": ["Expected a JSON object."]}
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}

    kind = item.get("type")
    if kind is None or kind == "":
        errors["type"] = ["This field is required."]
    elif kind not in EVENT_TYPES:
        errors["type"] = [f'"{kind}" is not a valid choice; one of: {", ".join(sorted(EVENT_TYPES))}.']
    data["type"] = kind

    severity = item.get("severity")
    if severity is None or severity == "":
        errors["severity"] = ["This field is required."]
    elif not isinstance(severity, str) or severity.lower() not in SEVERITY_BY_SLUG:
        errors["severity"] = [f'"{severity}" is not a valid choice; one of: {", ".join(SEVERITY_BY_SLUG)}.']
    else:
        data["severity"] = SEVERITY_BY_SLUG[severity.lower()]

    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        errors["title"] = ["This field is required." if title in (None, "") else "Must be a non-blank string."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Ensure this field has no more than {TITLE_MAX} characters."]
    elif "\x00" in title:
        errors["title"] = [NUL_MESSAGE]
    data["title"] = title

    data["description"] = _text(item, "description", DESCRIPTION_MAX, errors)
    for name, limit in TEXT_FIELDS.items():
        data[name] = _text(item, name, limit, errors)

    source = item.get("source") or default_source
    if not isinstance(source, str) or len(source) > SOURCE_MAX or not SOURCE_RE.match(source):
        errors["source"] = ["Must be a lower-case slug (letters, digits, . _ -) of at most 32 characters."]
    data["source"] = source

    uid = item.get("uid")
    if uid is not None and not isinstance(uid, str):
        errors["uid"] = ["Must be a string."]
    elif uid is not None and len(uid) > UID_MAX:
        errors["uid"] = [f"Ensure this field has no more than {UID_MAX} characters."]
    elif uid is not None and "\x00" in uid:
        errors["uid"] = [NUL_MESSAGE]
    data["uid"] = uid or None

    cvss = item.get("cvss")
    if cvss is not None:
        if isinstance(cvss, bool) or not isinstance(cvss, (int, float)):
            errors["cvss"] = ["Must be a number from 0 to 10."]
        elif not 0 <= cvss <= 10:
            errors["cvss"] = ["Must be a number from 0 to 10."]
    data["cvss"] = cvss

    details = item.get("details")
    if details is not None and not isinstance(details, dict):
        errors["details"] = ["Must be a JSON object."]
    elif details and "\\u0000" in json.dumps(details):
        errors["details"] = [NUL_MESSAGE]
    data["details"] = details or {}

    occurred = item.get("occurred_at")
    if occurred in (None, ""):
        data["occurred_at"] = now
    else:
        parsed = parse_datetime(occurred)
        if parsed is None:
            errors["occurred_at"] = ["Must be an ISO 8601 date-time, e.g. 2026-11-26T10:00:00Z."]
        data["occurred_at"] = parsed
    return data, errors


def clean_events(items: list[Any], default_source: str, now: datetime, *, single: bool = False) -> list[dict]:
    """Validate every item; raise :class:`EventValidationError` listing the bad ones (nothing is half-accepted)."""
    cleaned = []
    errors: dict[int | None, dict[str, list[str]]] = {}
    invalid = 0
    for index, item in enumerate(items):
        data, item_errors = clean_event(item, default_source, now)
        if item_errors:
            invalid += 1
            if len(errors) < MAX_REPORTED_ITEMS:
                errors[None if single else index] = item_errors
        cleaned.append(data)
    if invalid:
        raise EventValidationError(errors, invalid)
    return cleaned
