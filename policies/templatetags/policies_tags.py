"""Template helpers of the policy screens: sortable column headers that keep the search and work with htmx."""

from __future__ import annotations

from django import template
from django.template.defaulttags import querystring
from django.utils.html import format_html

from policies.forms import describe_interval

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_link(context, label: str, key: str, next_value: str) -> str:
    """A column header link: sorts by ``next_value`` (the current query kept, back to page 1), with an arrow."""
    href = querystring(context, sort=next_value, page=None)
    current = context.get("sort")
    arrow = " ▲" if current == key else " ▼" if current == f"-{key}" else ""
    return format_html('<a href="{}" hx-get="{}">{}{}</a>', href, href, label, arrow)


@register.simple_tag
def aria_sort(current: str, key: str) -> str:
    """The ``aria-sort`` attribute of a sortable header, so screen readers announce the order."""
    value = "ascending" if current == key else "descending" if current == f"-{key}" else "none"
    return format_html('aria-sort="{}"', value)


@register.filter
def interval(seconds: int) -> str:
    """Seconds in words: ``14400|interval`` → "4 hours"."""
    return describe_interval(int(seconds or 0))
