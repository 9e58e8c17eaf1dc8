"""Filters of the security event list, shared by the API and the Events screen."""

from __future__ import annotations

import fnmatch
import string

import django_filters
from django.db import connection

from events.models import EventType, SecurityEvent, Severity
from kcs.filters import IsoDateTimeFilter

SEVERITY_CHOICES = [(s.label.lower(), s.label) for s in reversed(Severity)]
GLOB_CHARS = set("*?[")


def severity_value(slug: str) -> int:
    return int(Severity.from_slug(slug))


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=EventType.choices)
    severity = django_filters.ChoiceFilter(choices=SEVERITY_CHOICES, method="filter_severity")
    min_severity = django_filters.ChoiceFilter(
        choices=SEVERITY_CHOICES, method="filter_min_severity", label="Minimum severity"
    )
    source = django_filters.CharFilter()
    cluster = django_filters.CharFilter()
    namespace = django_filters.CharFilter()
    registry = django_filters.CharFilter()
    repository = django_filters.CharFilter(method="filter_repository", help_text="Exact name or glob, e.g. team-*/api")
    tag = django_filters.CharFilter()
    digest = django_filters.CharFilter()
    finding_id = django_filters.CharFilter(label="Finding (CVE, rule…)")
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    search = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label="Title contains")
    batch = django_filters.UUIDFilter(field_name="batch_id")

    class Meta:
        model = SecurityEvent
        fields: list[str] = []

    def filter_severity(self, queryset, name, value: str):
        return queryset.filter(severity=severity_value(value))

    def filter_min_severity(self, queryset, name, value: str):
        return queryset.filter(severity__gte=severity_value(value))

    def filter_repository(self, queryset, name, value):
        return by_repository(queryset, value)


def by_repository(queryset, value: str):
    """Rows whose ``repository`` is ``value``, or matches it when it is a glob (``team-*/api``)."""
    if GLOB_CHARS & set(value):
        regex = glob_to_regex(value, connection.vendor)
        return queryset.filter(repository__regex=regex) if regex is not None else queryset.none()
    return queryset.filter(repository=value)


_ESCAPED = frozenset(string.punctuation + " ")  # ASCII only: PostgreSQL reads a backslash before a letter as an escape


def glob_to_regex(pattern: str, vendor: str) -> str | None:
    """A regex matching the whole value against a shell glob (``*``, ``?``, ``[abc]``, ``[!a-z]``), for ``vendor``;
    None for a glob that matches nothing (a bracket holding only reversed ranges such as ``[z-a]``).

    SQLite's REGEXP is Python's ``re``: fnmatch's own translation, whose atomic-group trick keeps ``*a*a*a*b``
    from backtracking for minutes. PostgreSQL has no such syntax (it answered a*b*c with an error); its engine does
    not backtrack, so plain ``.*`` is safe there.
    """
    if vendor != "postgresql":
        return "^" + fnmatch.translate(pattern)
    parts = ["^"]
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        index += 1
        if char == "*":
            if parts[-1] != ".*":
                parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[" and (klass := _bracket(pattern, index)) is not None:
            regex, index = klass
            if regex is None:
                return None
            parts.append(regex)
        else:
            parts.append("\\" + char if char in _ESCAPED else char)
    parts.append("$")
    return "".join(parts)


def _bracket(pattern: str, start: int) -> tuple[str | None, int] | None:
    """The regex for the bracket expression opening before ``start`` (None when it matches nothing) and the index
    after it; None when it is not closed (the ``[`` is then literal). Reversed ranges (``z-a``) are empty, as in
    fnmatch."""
    index = start
    negate = index < len(pattern) and pattern[index] == "!"
    index += negate
    if index < len(pattern) and pattern[index] == "]":
        index += 1  # a ] right after the opening is a member
    end = pattern.find("]", index)
    if end == -1:
        return None
    body = pattern[start + negate : end]
    members = []
    position = 0
    while position < len(body):
        if position + 2 < len(body) and body[position + 1] == "-":
            low, high = body[position], body[position + 2]
            if low <= high:
                members.append(f"{_class_char(low)}-{_class_char(high)}")
            position += 3
        else:
            members.append(_class_char(body[position]))
            position += 1
    if not members:  # only reversed ranges: nothing, or anything when negated
        return ("." if negate else None), end + 1
    return f"[{'^' if negate else ''}{''.join(members)}]", end + 1


def _class_char(char: str) -> str:
    return "\\" + char if char in _ESCAPED else char
