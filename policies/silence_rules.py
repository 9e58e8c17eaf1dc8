"""The rules a silence must satisfy: the one place shared by the screens, the API and the services.

Matchers are an object from event field to value; every given matcher must hold for an event:

- ``type``: the event type slug; ``source``: the source name (both exact, ignoring case);
- ``max_severity``: a severity slug, the event's severity is at most this;
- ``cluster``, ``namespace``, ``registry``, ``repository``, ``tag``, ``finding_id``: shell globs matched against
  the whole value, ignoring case (as scope patterns are);
- ``title_contains``: text the event's title contains, ignoring case.

A silence runs from ``starts_at`` (default: now) to ``ends_at``, or for ``duration`` (``90m``, ``4h``, ``7d``,
``2w``, combinations such as ``1d12h``, or seconds), and needs a comment saying why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from events.models import EventType, Severity
from events.validation import parse_datetime
from kcs.visibility import Visibility, policy_q
from policies.models import ResponsePolicy
from policies.silence_scopes import scope_problems
from policies.validation import ValidationFailed

GLOB_FIELDS = ("cluster", "namespace", "registry", "repository", "tag", "finding_id")
MATCHER_FIELDS = ("type", "max_severity", *GLOB_FIELDS, "source", "title_contains")
MATCHER_LABELS = {
    "type": "Event type",
    "max_severity": "Severity at most",
    "cluster": "Cluster",
    "namespace": "Namespace",
    "registry": "Registry",
    "repository": "Repository",
    "tag": "Tag",
    "finding_id": "Finding",
    "source": "Source",
    "title_contains": "Title contains",
}
MATCHER_MAX_LENGTH = 255
COMMENT_MAX_LENGTH = 2000
POLICIES_MAX = 1000
# A silence longer than a year is a risk acceptance in disguise (or a typo), not a silence.
MAX_DURATION = timedelta(days=366)
DURATION_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION_PATTERN = re.compile(r"(\d+)\s*([wdhms])")

Errors = dict[str, list[str]]


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def check_matchers(value: Any) -> tuple[list[str], dict[str, str]]:
    """Messages about ``value`` as a matcher object, and the cleaned matchers (trimmed; type, source and severity
    lower-cased)."""
    if not isinstance(value, dict):
        return ['Expected an object from event field to value, e.g. {"repository": "shop/*"}.'], {}
    problems: list[str] = []
    cleaned: dict[str, str] = {}
    for field, raw in value.items():
        if field not in MATCHER_FIELDS:
            problems.append(f"“{str(field)[:60]}” is not a matcher field. Use: {', '.join(MATCHER_FIELDS)}.")
            continue
        if not isinstance(raw, str):
            problems.append(f"{field}: the value must be a text.")
            continue
        text = raw.strip()
        if not text:
            continue  # an empty matcher constrains nothing: dropped
        if len(text) > MATCHER_MAX_LENGTH:
            problems.append(f"{field}: use at most {MATCHER_MAX_LENGTH} characters.")
            continue
        if field == "type":
            text = text.lower()
            if text not in EventType.values:
                problems.append(f"type: “{text[:60]}” is not an event type. Use one of: {', '.join(EventType.values)}.")
                continue
        elif field == "max_severity":
            text = text.lower()
            if text not in Severity.slugs():
                problems.append(
                    f"max_severity: “{text[:60]}” is not a severity. Use one of: {', '.join(Severity.slugs())}."
                )
                continue
        elif field == "source":
            text = text.lower()
        elif field in GLOB_FIELDS and any(ch.isspace() for ch in text):
            problems.append(f"{field}: “{text[:60]}” contains spaces; resource names never do.")
            continue
        cleaned[field] = text
    if not problems and not cleaned:
        problems.append("Give at least one matcher: a silence of every event would hide everything.")
    return problems, cleaned


def parse_duration(value: Any) -> timedelta | None:
    """``90m``, ``4h``, ``7d``, ``2w``, ``1d12h`` or a number of seconds; None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return timedelta(seconds=value) if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.isascii() and text.isdigit():
        return timedelta(seconds=int(text)) if int(text) > 0 else None
    parts = DURATION_PATTERN.findall(text)
    if not parts or DURATION_PATTERN.sub("", text).strip():
        return None
    seconds = sum(int(number) * DURATION_UNITS[unit] for number, unit in parts)
    return timedelta(seconds=seconds) if 0 < seconds < 10**9 else None


def check_policy_ids(value: Any, policies=None, kept: Iterable[int] = ()) -> tuple[list[str], list[int]]:
    """Messages about ``value`` as a list of existing response policy ids, and the ids (sorted, once each).

    ``policies``: the policies the person may name (those they see; default: all); ids in ``kept`` (already on the
    silence being replaced) may stay. Another id is answered as not existing, as the policy is not theirs to see.
    """
    if value is None:
        return [], []
    if not isinstance(value, (list, tuple)):
        return ["Expected a list of response policy ids."], []
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return ["Each item must be a response policy id (an integer)."], []
    ids = sorted(set(value))
    if len(ids) > POLICIES_MAX:
        return [f"Name at most {POLICIES_MAX} policies (or none: every policy)."], []
    queryset = ResponsePolicy.objects.all() if policies is None else policies
    found = set(queryset.filter(pk__in=ids).values_list("pk", flat=True))
    if kept:
        found |= set(ResponsePolicy.objects.filter(pk__in=set(ids) & set(kept)).values_list("pk", flat=True))
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        return [f"No response policy with id {', '.join(missing[:10])}."], []
    return [], ids


def _moment(errors: Errors, field: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        _add(errors, field, "Enter a date and time in ISO 8601, e.g. 2026-12-24T18:00:00Z.")
    return parsed


def check_silence(
    values: dict[str, Any], now: datetime, visibility: Visibility | None = None, kept_policies: Iterable[int] = ()
) -> dict[str, Any]:
    """Check a silence's values and return them as stored: ``{matchers, policies, starts_at, ends_at, comment}``.

    ``values`` keys: matchers (object), policies (ids; empty or absent: every policy), starts_at (default ``now``),
    ends_at or duration (one of them), comment (required). ``visibility``: the person's (None: a system job), whose
    silence must lie inside one of their scopes (:func:`policies.silence_scopes.scope_problems`) and may name only
    policies they see, besides ``kept_policies`` (those of the version it replaces). Raises
    :class:`ValidationFailed` naming each field at fault; a person sees every independent problem at once.
    """
    errors: Errors = {}
    problems, matchers = check_matchers(values.get("matchers"))
    if not problems:
        problems = scope_problems(matchers, visibility)
    for message in problems:
        _add(errors, "matchers", message)
    visible = None if visibility is None else ResponsePolicy.objects.filter(policy_q(visibility))
    problems, policy_ids = check_policy_ids(values.get("policies"), visible, kept_policies)
    for message in problems:
        _add(errors, "policies", message)
    comment = values.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        _add(errors, "comment", "Say why events are silenced (a comment is required).")
    elif len(comment.strip()) > COMMENT_MAX_LENGTH:
        _add(errors, "comment", f"Use at most {COMMENT_MAX_LENGTH} characters.")
    starts_at = _moment(errors, "starts_at", values.get("starts_at"))
    ends_at = _moment(errors, "ends_at", values.get("ends_at"))
    duration_given = values.get("duration") not in (None, "")
    duration = parse_duration(values.get("duration")) if duration_given else None
    if duration_given and duration is None:
        _add(errors, "duration", "Enter a duration such as 90m, 4h, 7d or 2w (or a number of seconds).")
    if duration_given and values.get("ends_at") not in (None, ""):
        _add(errors, "duration", "Give an end (ends_at) or a duration, not both.")
    if "starts_at" not in errors:
        starts_at = starts_at or now
    if "ends_at" not in errors and "duration" not in errors and "starts_at" not in errors:
        if duration is not None:
            ends_at = starts_at + duration
        if ends_at is None:
            _add(errors, "ends_at", "Give an end (ends_at) or a duration.")
        elif ends_at <= now:
            _add(errors, "ends_at", "The end is already past: the silence would never act.")
        elif ends_at <= starts_at:
            _add(errors, "ends_at", "The end must come after the start.")
        elif ends_at - starts_at > MAX_DURATION:
            field = "duration" if duration is not None else "ends_at"
            _add(errors, field, "A silence lasts at most a year; accept the risk instead.")
    if errors:
        raise ValidationFailed(errors)
    return {
        "matchers": matchers,
        "policies": policy_ids,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "comment": comment.strip(),
    }
