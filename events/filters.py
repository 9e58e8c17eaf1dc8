"""Filters of the security event list, shared by the API and the Events screen."""

from __future__ import annotations

import fnmatch

import django_filters

from events.models import EventType, SecurityEvent, Severity

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
    finding_id = django_filters.CharFilter(label="Finding (CVE, rule…)")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    search = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label="Title contains")
    batch = django_filters.UUIDFilter(field_name="batch_id")

    class Meta:
        model = SecurityEvent
        fields: list[str] = []

    def filter_severity(self, queryset, name, value):
        return queryset.filter(severity=severity_value(value))

    def filter_min_severity(self, queryset, name, value):
        return queryset.filter(severity__gte=severity_value(value))

    def filter_repository(self, queryset, name, value):
        if GLOB_CHARS & set(value):
            # fnmatch's regex uses only constructs PostgreSQL and SQLite (Python re) both understand.
            return queryset.filter(repository__regex=glob_to_regex(value))
        return queryset.filter(repository=value)


def glob_to_regex(pattern: str) -> str:
    """A whole-value regex for a shell glob, without Python-only syntax (``(?s:`` and ``\\Z``)."""
    translated = fnmatch.translate(pattern)  # e.g. '(?s:team\\-.*/api)\\Z'
    inner = translated.removeprefix("(?s:").removesuffix(")\\Z")
    return f"^{inner}$"
