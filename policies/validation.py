"""The rules a response policy and a scope must satisfy: the one place shared by the screens, the API and the admin.

Forms and serializers parse raw input into Python values (strings, model instances); the functions here check the
business rules on those values and return field-level messages, so that every entry point refuses the same input
with the same words. A value missing from the input (because its field already failed to parse) is not checked
again, so a person sees every independent problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from events.models import Severity
from notifications.channels import kind_label
from notifications.models import NotificationIntegration
from policies.models import TRIGGER_DEFAULT_SEVERITY, ResponsePolicy, Scope, Trigger

NAME_MAX_LENGTH = ResponsePolicy._meta.get_field("name").max_length
PATTERN_MAX_LENGTH = 255
PATTERNS_PER_LIST = 100
# A repeat interval longer than a quarter is a mistake (seconds typed as minutes), not a policy.
REPEAT_INTERVAL_MAX = 90 * 24 * 60 * 60

Errors = dict[str, list[str]]


class ValidationFailed(Exception):
    """Raised by services with field-level messages (``{field: [message, ...]}``); nothing was saved."""

    def __init__(self, errors: Errors, rows: dict[int, list[str]] | None = None):
        super().__init__(errors)
        self.errors = errors
        # Messages about one notification method row (0-based), for forms that show them beside the row.
        self.rows = rows or {}


class ProtectedObject(Exception):
    """Raised when a change is refused as a whole (the Global scope, a scope still in use); ``str()`` says why."""


@dataclass(frozen=True)
class MethodChoice:
    """One notification method row: the integration and, when the caller named it, the output type expected."""

    integration: NotificationIntegration
    kind: str | None = None


def has_threshold(trigger: str) -> bool:
    """Whether the trigger takes a minimum severity."""
    return trigger in TRIGGER_DEFAULT_SEVERITY


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def check_name(errors: Errors, model, name: str, instance=None, label: str = "policy") -> None:
    """Required, at most 100 characters, and unique ignoring case (so "Prod" and "prod" never both exist)."""
    name = (name or "").strip()
    if not name:
        _add(errors, "name", "Enter a name.")
        return
    if len(name) > NAME_MAX_LENGTH:
        _add(errors, "name", f"Use at most {NAME_MAX_LENGTH} characters (this name has {len(name)}).")
        return
    others = model.objects.filter(name__iexact=name)
    if instance is not None and instance.pk:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        _add(errors, "name", f"A {label} named “{name}” already exists.")


def check_methods(methods: Sequence[MethodChoice]) -> tuple[list[str], dict[int, list[str]]]:
    """At least one row; each integration of the type its row names; no integration twice.

    Returns messages about the list as a whole and messages per row (0-based index).
    """
    general: list[str] = []
    rows: dict[int, list[str]] = {}
    if not methods:
        general.append("Add at least one notification method.")
    seen: set[int] = set()
    for index, method in enumerate(methods):
        integration = method.integration
        if method.kind and integration.kind != method.kind:
            rows.setdefault(index, []).append(
                f"“{integration.name}” is a {integration.kind_label} output, not {kind_label(method.kind)}."
            )
        if integration.pk in seen:
            rows.setdefault(index, []).append(f"“{integration.name}” is listed more than once.")
        seen.add(integration.pk)
    return general, rows


def check_policy(values: dict[str, Any], instance: ResponsePolicy | None = None) -> tuple[Errors, dict[int, list[str]]]:
    """Check a policy's values; keys absent from ``values`` are skipped. Returns ``(errors, row_errors)``.

    ``values`` keys: name, scopes (Scope list), trigger (slug), min_severity (int or None),
    notification_methods (MethodChoice list), repeat_interval (int).
    """
    errors: Errors = {}
    rows: dict[int, list[str]] = {}
    if "name" in values:
        check_name(errors, ResponsePolicy, values["name"], instance)
    if "scopes" in values and not values["scopes"]:
        _add(errors, "scopes", "Choose at least one scope (Global covers every resource).")
    trigger = values.get("trigger")
    if "trigger" in values:
        if trigger not in Trigger.values:
            _add(errors, "trigger", f"“{trigger}” is not a trigger. Choose one of: {', '.join(Trigger.values)}.")
            trigger = None
    if trigger and values.get("min_severity") is not None:
        if not has_threshold(trigger):
            _add(
                errors,
                "min_severity",
                f"The {Trigger(trigger).label} trigger has no severity threshold; leave it empty.",
            )
        elif values["min_severity"] not in Severity.values:
            _add(errors, "min_severity", "Choose a severity.")
    if "notification_methods" in values:
        general, rows = check_methods(values["notification_methods"])
        for message in general:
            _add(errors, "notification_methods", message)
    if "repeat_interval" in values:
        interval = values["repeat_interval"]
        if interval is None or interval < 0 or interval > REPEAT_INTERVAL_MAX:
            _add(errors, "repeat_interval", f"Use a number of seconds from 0 to {REPEAT_INTERVAL_MAX} (90 days).")
    return errors, rows


GLOBAL_NOT_HELD = "Choosing the Global scope needs the right View the Global scope."


def check_scopes_held(scopes: Iterable[Scope], held_ids: Iterable[int], kept_ids: Iterable[int] = ()) -> list[str]:
    """Messages about the ``scopes`` a person may not give a policy: one they do not hold, unless the policy already
    has it (``kept_ids``: a scope someone else gave it may stay). A scope is named by its id, never by its name: a
    scope the person does not hold is one they cannot see."""
    allowed = set(held_ids) | set(kept_ids)
    messages = []
    for scope in scopes:
        if scope.pk in allowed:
            continue
        if scope.is_global:
            messages.append(GLOBAL_NOT_HELD)
        else:
            messages.append(
                f"The scope with id {scope.pk} is not one of your scopes: choose among the scopes you hold."
            )
    return messages


def normalize_policy(values: dict[str, Any]) -> dict[str, Any]:
    """Valid values as they are stored: trimmed name, the trigger's default threshold when none was given."""
    cleaned = dict(values)
    cleaned["name"] = cleaned["name"].strip()
    if has_threshold(cleaned["trigger"]):
        if cleaned.get("min_severity") is None:
            cleaned["min_severity"] = int(TRIGGER_DEFAULT_SEVERITY[cleaned["trigger"]])
    else:
        cleaned["min_severity"] = None
    return cleaned


def clean_patterns(patterns: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Trimmed, de-duplicated glob patterns (order kept) and the messages about bad ones."""
    cleaned: list[str] = []
    problems: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            problems.append("Each pattern must be a text.")
            continue
        pattern = pattern.strip()
        if not pattern:
            continue
        if len(pattern) > PATTERN_MAX_LENGTH:
            problems.append(f"“{pattern[:40]}…” is longer than {PATTERN_MAX_LENGTH} characters.")
        elif any(ch.isspace() for ch in pattern):
            problems.append(f"“{pattern}” contains spaces; resource names never do.")
        elif pattern not in cleaned:
            cleaned.append(pattern)
    if len(cleaned) > PATTERNS_PER_LIST:
        problems.append(f"Use at most {PATTERNS_PER_LIST} patterns per list.")
    return cleaned, problems


def check_scope(values: dict[str, Any], instance: Scope | None = None) -> tuple[Errors, dict[str, Any]]:
    """Check a scope's values (keys absent are skipped); returns ``(errors, cleaned values)``."""
    errors: Errors = {}
    cleaned = dict(values)
    if instance is not None and instance.is_global:
        _add(errors, "non_field_errors", "The Global scope is built in and cannot be changed.")
        return errors, cleaned
    if "name" in values:
        check_name(errors, Scope, values["name"], instance, label="scope")
        cleaned["name"] = (values["name"] or "").strip()
    for field in Scope.PATTERN_FIELDS:
        if field in values:
            cleaned[field], problems = clean_patterns(values[field] or [])
            for message in problems:
                _add(errors, field, message)
    return errors, cleaned
