"""Shared parts of the native adapters: the adapter contract, typed reading, image references, severities, uids.

An adapter is pure: it turns the bytes a tool sends into event dicts for :func:`events.services.ingest` (the
SecurityEvent field names, severity and type as slugs) without touching the database or the network. Every
problem with the payload is an :class:`AdapterError` that says where and what, so the API can answer 400.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from events.adapters.images import normalize_registry
from events.models import EventType, Severity
from events.validation import DESCRIPTION_MAX, TEXT_FIELDS, TITLE_MAX

# Resource fields a sender may fill in from outside the payload (query parameters, command options): the tools
# often do not know them (Falco and trivy-operator know no cluster name; a Harbor report carries no image name).
RESOURCE_FIELDS = ("registry", "repository", "tag", "digest", "cluster", "namespace", "pod", "container", "node")
HINT_FIELDS = ("cluster", "namespace", "node", "registry", "repository", "tag", "digest")

# Fields that identify a finding on a resource; with the adapter's own key parts they make the uid.
_UID_FIELDS = ("type", *RESOURCE_FIELDS, "finding_id", "package", "installed_version")


class AdapterError(ValueError):
    """The payload is not what this tool sends: wrong tool, missing field, wrong type. ``path`` says where."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path

    def as_errors(self) -> dict[str, list[str]]:
        """Field-level form for the API's 400 body: ``{path or "non_field_errors": [message]}``."""
        return {self.path or "non_field_errors": [self.message]}


@dataclass
class Parsed:
    """What an adapter found: event dicts to ingest, and what it acknowledged without storing (and why)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.items.extend(other.items)
        self.ignored.extend(other.ignored)


class Adapter:
    """One tool's native format. Subclasses set ``name``/``label`` and implement :meth:`parse`."""

    name = ""
    label = ""

    def decode(self, body: bytes) -> Any:
        """The JSON value of the body; raises :class:`AdapterError` for an empty or non-JSON body."""
        return decode_json(body, self.label)

    def parse(self, payload: Any, hints: Mapping[str, str]) -> Parsed:
        """Events found in a decoded payload; ``hints`` fill resource fields the payload leaves empty."""
        raise NotImplementedError

    def load(self, body: bytes, hints: Mapping[str, str] | None = None) -> Parsed:
        return self.parse(self.decode(body), hints or {})

    def wrong_payload(self, what: str, payload: Any) -> AdapterError:
        """The error for JSON that is not this tool's: names the tool it looks like, when it looks like one."""
        other = guess_tool(payload)
        if other and other != self.name:
            return AdapterError(
                f"This looks like {TOOL_LABELS[other]} output, not {what}; "
                f"send it to /api/v1/ingest/{other}/ (manage.py ingest {other})."
            )
        return AdapterError(f"Not {what}.")


# --- decoding --------------------------------------------------------------------------------------------------


def text_of(body: bytes) -> str:
    """The body as text: UTF-8 (with or without BOM), or UTF-16 with a BOM (PowerShell's ``>`` writes that)."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise AdapterError(f"The body is not UTF-8 text (byte {exc.start}).") from None


def decode_json(body: bytes, label: str) -> Any:
    """One JSON value from the body; raises :class:`AdapterError` saying what is wrong and where."""
    text = text_of(body)
    if not text.strip():
        raise AdapterError(f"The body is empty: send the {label} JSON output.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AdapterError(f"The body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None


# --- typed reading ---------------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def obj(value: Any, path: str) -> dict[str, Any]:
    """``value`` as a JSON object, or an error naming ``path``."""
    if not isinstance(value, dict):
        raise AdapterError(f"{path}: expected an object, got {_type_name(value)}.", path)
    return value


def section(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    """``container[key]`` as an object ({} when missing or null)."""
    value = container.get(key)
    if value is None:
        return {}
    return obj(value, f"{path}.{key}" if path else key)


def items(container: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> list[Any]:
    """``container[key]`` as a list (missing or null: empty, unless required)."""
    where = f"{path}.{key}" if path else key
    value = container.get(key)
    if value is None:
        if required:
            raise AdapterError(f"{where}: this field is required.", where)
        return []
    if not isinstance(value, list):
        raise AdapterError(f"{where}: expected a list, got {_type_name(value)}.", where)
    return value


def objects(container: Mapping[str, Any], key: str, path: str, *, required: bool = False):
    """``(path, object)`` for each element of the list ``container[key]``; every element must be an object."""
    where = f"{path}.{key}" if path else key
    for index, value in enumerate(items(container, key, path, required=required)):
        yield f"{where}[{index}]", obj(value, f"{where}[{index}]")


def text(container: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    """``container[key]`` as a string ('' when missing or null, an error when required)."""
    where = f"{path}.{key}" if path else key
    value = container.get(key)
    if value is None or (required and value == ""):
        if required:
            raise AdapterError(f"{where}: this field is required.", where)
        return ""
    if not isinstance(value, str):
        raise AdapterError(f"{where}: expected a string, got {_type_name(value)}.", where)
    return value


def number(container: Mapping[str, Any], key: str, path: str) -> float | None:
    """``container[key]`` as a float (None when missing or null)."""
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        where = f"{path}.{key}" if path else key
        raise AdapterError(f"{where}: expected a number, got {_type_name(value)}.", where)
    return float(value)


def cvss_score(value: float | None) -> float | None:
    """A CVSS base score in 0..10, or None (tools sometimes write 0 for "not scored" or garbage above 10)."""
    if value is None or not 0 < value <= 10:
        return None
    return round(value, 1)


# --- severities ------------------------------------------------------------------------------------------------


def severity_table(mapping: Mapping[str, Severity]) -> dict[str, str]:
    """A lookup from a tool's severity names (any case) to our slugs."""
    return {name.lower(): level.slug for name, level in mapping.items()}


# Each tool's severity names → ours (compared case-insensitively). The README shows these tables.
TRIVY_SEVERITIES = severity_table(
    {
        "CRITICAL": Severity.CRITICAL,
        "HIGH": Severity.HIGH,
        "MEDIUM": Severity.MEDIUM,
        "LOW": Severity.LOW,
        "UNKNOWN": Severity.UNKNOWN,  # Trivy has no "negligible": upstream negligible ratings arrive as LOW or UNKNOWN
    }
)
GRYPE_SEVERITIES = severity_table(
    {
        "Critical": Severity.CRITICAL,
        "High": Severity.HIGH,
        "Medium": Severity.MEDIUM,
        "Low": Severity.LOW,
        "Negligible": Severity.NEGLIGIBLE,
        "Unknown": Severity.UNKNOWN,
    }
)
HARBOR_SEVERITIES = {
    **GRYPE_SEVERITIES,
    # "None" is the overall severity of a report without vulnerabilities; on a single finding it can only mean
    # "no real risk", never "unknown".
    "none": Severity.NEGLIGIBLE.slug,
}
# Falco has 8 priorities for our 6 levels: the top three collapse into critical; Error→high, Warning→medium and
# Notice→low follow the rule defaults; Informational and Debug are noise-level.
FALCO_SEVERITIES = severity_table(
    {
        "Emergency": Severity.CRITICAL,
        "Alert": Severity.CRITICAL,
        "Critical": Severity.CRITICAL,
        "Error": Severity.HIGH,
        "Warning": Severity.MEDIUM,
        "Notice": Severity.LOW,
        "Informational": Severity.NEGLIGIBLE,
        "Info": Severity.NEGLIGIBLE,
        "Debug": Severity.NEGLIGIBLE,
    }
)


def severity(table: Mapping[str, str], container: Mapping[str, Any], key: str, path: str) -> str:
    """The slug for ``container[key]`` in ``table``; missing or unrecognised names are ``unknown``."""
    name = text(container, key, path)
    return table.get(name.strip().lower(), Severity.UNKNOWN.slug)


# --- events ----------------------------------------------------------------------------------------------------


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
    so re-posting the same report stores nothing twice.
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


def name_and_version(value: Any) -> str:
    """``"Trivy v0.56.2"`` from ``{"name": "Trivy", "version": "v0.56.2", …}`` ('' for anything else)."""
    if not isinstance(value, dict):
        return ""
    return " ".join(str(value[key]) for key in ("name", "version") if value.get(key))


def compact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` without empty values (None, '', [], {}): details stay small and readable."""
    return {k: v for k, v in mapping.items() if v not in (None, "", [], {})}


# --- telling the tools apart -----------------------------------------------------------------------------------

TOOL_LABELS = {"trivy": "Trivy", "grype": "Grype", "harbor": "Harbor", "falco": "Falco"}


def guess_tool(payload: Any) -> str | None:
    """Which tool's output ``payload`` looks like (for helpful errors), or None."""
    if isinstance(payload, list):
        return guess_tool(payload[0]) if payload else None
    if not isinstance(payload, dict):
        return None
    keys = set(payload)
    api_version = payload.get("apiVersion")
    if (
        {"SchemaVersion", "ArtifactName", "Results", "ClusterName"} & keys
        or (isinstance(api_version, str) and api_version.startswith("aquasecurity.github.io"))
        or any(str(k).endswith(".aquasecurity.github.io") for k in keys)
    ):
        return "trivy"
    if "matches" in keys and ({"source", "descriptor", "distro"} & keys):
        return "grype"
    if (
        ("event_data" in keys and "type" in keys)
        or str(payload.get("type", "")).startswith("harbor.")
        or any(str(k).startswith("application/vnd.") for k in keys)
        or {"scanner", "vulnerabilities"} <= keys
    ):
        return "harbor"
    if {"rule", "priority"} <= keys or {"rule", "output"} <= keys:
        return "falco"
    return None


# --- resource hints --------------------------------------------------------------------------------------------


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
