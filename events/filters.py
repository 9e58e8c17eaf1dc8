"""Filters of the security event list, shared by the API and the Events screen."""

from __future__ import annotations

import django_filters
from django.db import connection

from events.models import EventType, SecurityEvent, Severity
from kcs.filters import IsoDateTimeFilter
from kcs.globs import GLOB_CHARS, glob_to_regex
from kcs.visibility import visibility_of

SEVERITY_CHOICES = [(s.label.lower(), s.label) for s in reversed(Severity)]


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
    received_after = IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
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


def visible_events(request):
    """The events ``request``'s person may see now: those in their active scopes (:mod:`kcs.visibility`). Every
    screen and API call that shows or names an event starts from here, so one outside is a 404."""
    return SecurityEvent.objects.filter(visibility_of(request).resource_q())
