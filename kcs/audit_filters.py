"""Filters of the security event log, shared by its page (``/security-log/``) and its API (``/api/v1/audit-log/``)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from kcs.filters import check_moment
from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource

PERIODS = {
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "90d": dt.timedelta(days=90),
}
PERIOD_CHOICES = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("all", "All time"),
]


class DateOrDateTimeField(forms.CharField):
    """``2026-05-01`` (a whole day) or an ISO date-time; returns ``(datetime, is_whole_day)``."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            # A date first: Python's fromisoformat (under parse_datetime) would read it as midnight, not a day.
            day = parse_date(value)
            moment = None if day else parse_datetime(value)
        except ValueError:
            day = moment = None
        if moment is not None:
            return (check_moment(moment if timezone.is_aware(moment) else timezone.make_aware(moment)), False)
        if day is None:
            raise forms.ValidationError("Enter a date (YYYY-MM-DD) or an ISO date-time.")
        # Within kcs.bounds' years, so the day after (the end of a whole-day "until") exists too. Kept in local time:
        # the day after is the next local midnight, also across a daylight saving change.
        start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        check_moment(start)
        return (start, True)


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


class AuditEntryFilter(django_filters.FilterSet):
    """``category`` (a tab), ``search`` (part of a user name or of an object's name), ``actor`` (user name),
    ``object_type``, ``action``, ``source``, ``period`` (24h/7d/30d/90d/all), ``since`` and ``until`` (a date
    includes that whole day)."""

    category = django_filters.ChoiceFilter(choices=AuditCategory.choices, label="Category")
    search = django_filters.CharFilter(method="filter_search", label="User or object", max_length=150)
    actor = django_filters.CharFilter(field_name="actor_name", label="User")
    object_type = django_filters.CharFilter(label="Object type")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    source = django_filters.ChoiceFilter(choices=AuditSource.choices)
    period = django_filters.ChoiceFilter(choices=PERIOD_CHOICES, method="filter_period", label="Period")
    since = DateOrDateTimeFilter(method="filter_since", label="From")
    until = DateOrDateTimeFilter(method="filter_until", label="To")

    class Meta:
        model = AuditEntry
        fields = ["category", "search", "actor", "object_type", "action", "source", "period", "since", "until"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(actor_name__icontains=value) | Q(object_repr__icontains=value))

    @extend_schema_field(OpenApiTypes.STR)
    def filter_period(self, queryset, name, value):
        if value in PERIODS:
            return queryset.filter(timestamp__gte=timezone.now() - PERIODS[value])
        return queryset

    @extend_schema_field(OpenApiTypes.STR)  # a date or a date-time
    def filter_since(self, queryset, name, value):
        moment, _ = value
        return queryset.filter(timestamp__gte=moment)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_until(self, queryset, name, value):
        moment, whole_day = value
        if whole_day:
            return queryset.filter(timestamp__lt=moment + dt.timedelta(days=1))
        return queryset.filter(timestamp__lte=moment)
