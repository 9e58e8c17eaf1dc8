"""The event dicts adapters return: :func:`make_event` (clipping, resource hints, stable uid) and hint checking.

An event dict holds the SecurityEvent field names with severity and type as slugs, exactly what
:func:`events.services.ingest` validates for ``/api/v1/events/``; building every one here keeps the uid recipe and
the column limits in one place for all tools.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from events.adapters.images import normalize_registry
from events.models import EventType
from events.validation import DESCRIPTION_MAX, TEXT_FIELDS, TITLE_MAX

# Resource fields a sender may fill in from outside the payload (query parameters, command options): the tools
# often do not know them (Falco and trivy-operator know no cluster name; a Harbor report carries no image name).
RESOURCE_FIELDS = ("registry", "repository", "tag", "digest", "cluster", "namespace", "pod", "container", "node")
HINT_FIELDS = ("cluster", "namespace", "node", "registry", "repository", "tag", "digest")

# Fields that identify a finding on a resource; with the adapter's own key parts they make the uid.
_UID_FIELDS = ("type", *RESOURCE_FIELDS, "finding_id", "package", "installed_version")


def _clip(value: str, limit: int) -> str:
    value = value.replace("\x00", "")  # PostgreSQL text and jsonb cannot hold NUL (grype has sent it in versions)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _scrub(value: Any) -> Any:
    """``value`` with NUL characters removed from every string in it (details are stored as jsonb)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def make_uid(source: str, parts: Iterable[Any]) -> str:
    """``<source>:<sha256>`` of the parts: the same finding on the same resource in the same scan, same uid."""
    joined = "\x1f".join("" if part is None else str(part) for part in parts)
    return f"{source}:{hashlib.sha256(joined.encode()).hexdigest()}"


def make_event(
    *,
    source: str,
    type: EventType,
    severity: str,
    title: str,
    hints: Mapping[str, str],
    key: Sequence[Any] = (),
    description: str = "",
    details: dict[str, Any] | None = None,
    cvss: float | None = None,
    occurred_at: str | None = None,
    **fields: str,
) -> dict[str, Any]:
    """An event dict for the ingest service, with a stable ``uid``.

    ``fields`` are the resource and finding text fields; ``hints`` fill the resource fields left empty. Text is
    clipped to the column sizes (a real report must not be refused for one overlong package name). The uid hashes
    the type, resource, finding and ``key`` (what else tells two findings apart: the scan time, a file and line…),
    so re-posting the same report stores nothing twice. Raises :class:`TypeError` for a field that is not an
    event field (a bug in the adapter, not in the payload).
    """
    unknown = set(fields) - set(TEXT_FIELDS)
    if unknown:
        raise TypeError(f"not event fields: {sorted(unknown)}")
    event: dict[str, Any] = {"type": str(type), "severity": severity, "source": source}
    for name, limit in TEXT_FIELDS.items():
        value = fields.get(name) or (hints.get(name, "") if name in HINT_FIELDS else "")
        event[name] = _clip(value.strip(), limit) if value else ""
    event["title"] = _clip(" ".join(title.split()) or "(untitled)", TITLE_MAX)
    event["description"] = _clip(description.strip(), DESCRIPTION_MAX)
    event["cvss"] = cvss
    event["details"] = _scrub(compact(details or {}))
    if occurred_at:
        event["occurred_at"] = occurred_at
    event["uid"] = make_uid(source, [event[name] for name in _UID_FIELDS] + list(key))
    return event


def compact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` without empty values (None, '', [], {}): details stay small and readable."""
    return {k: v for k, v in mapping.items() if v not in (None, "", [], {})}


def clean_hints(values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Resource fields given beside the payload (query parameters, command options): ``(hints, errors)``."""
    hints: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        if name not in HINT_FIELDS:
            errors[name] = [f"Unknown parameter; the accepted ones are: {', '.join(HINT_FIELDS)}."]
            continue
        value = value.strip() if isinstance(value, str) else value
        if not isinstance(value, str) or not value:
            errors[name] = ["Must be a non-empty string."]
        elif len(value) > TEXT_FIELDS[name]:
            errors[name] = [f"Ensure this field has no more than {TEXT_FIELDS[name]} characters."]
        else:
            hints[name] = normalize_registry(value) if name == "registry" else value
    return hints, errors
