"""``{% timestamp value %}``: a moment as a ``<time>`` element (date, then the time of day in a muted span; the full
moment with its zone in the tooltip), in the current time zone.

One tag rather than four ``date`` filters: a table shows one per row, and each filter converts and formats the
value again (a page of 25 policies spent 3 ms on it)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.timezone import template_localtime

register = template.Library()


@register.simple_tag
def timestamp(value: datetime | None) -> str:
    """``<time datetime="ISO 8601" title="2026-12-03 13:08:10 UTC">2026-12-03 <muted>13:08</muted></time>``; an
    em dash when there is no moment."""
    if value is None:
        return "—"
    local = template_localtime(value)
    return format_html(
        '<time datetime="{}" title="{}"><span class="nowrap">{}</span> <span class="muted">{}</span></time>',
        local.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M"),
    )
