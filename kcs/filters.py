"""Filters for the lists' query parameters that keep values within :mod:`kcs.bounds`: out of range is a 400.

A date-time in year 0 or 10000 (after conversion to UTC) or an id above 2**63 - 1 passes django-filter's own
checks and then fails in the database or in Python's datetime arithmetic; these filters refuse it as bad input.
Date-times reach the query in UTC: ISO 8601 and Python allow UTC offsets up to ±23:59, PostgreSQL only ±15:59.
"""

from __future__ import annotations

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from kcs import bounds


def check_moment(moment):
    """``moment`` in UTC, or ``forms.ValidationError`` when it is outside :mod:`kcs.bounds`' years."""
    if moment is None:
        return None
    utc = bounds.utc_in_range(moment)
    if utc is None:
        raise forms.ValidationError(bounds.DATE_RANGE_MESSAGE, code="out_of_range")
    return utc


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time within :mod:`kcs.bounds`' years."""

    def to_python(self, value):
        return check_moment(super().to_python(value))


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """django-filter's ISO 8601 filter, refusing dates outside :mod:`kcs.bounds`' years."""

    field_class = BoundedIsoDateTimeField


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number from 1 to 2**63 - 1 (a larger one fails in the database instead of matching none)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", bounds.MAX_ID)
        super().__init__(*args, **kwargs)

    def get_max_validator(self):
        return None  # max_value above is the bound
