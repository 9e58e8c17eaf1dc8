"""The Security event log page (``/security-log/``): who changed what, when and from where, with filters.

Tabs by category (Administration, Alerts, Policies, Integrations, Events; "All" without one), a search by user
or object, and the other filters; the period defaults to the last 7 days."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from kcs.audit_filters import PERIOD_CHOICES, AuditEntryFilter
from kcs.models import AuditAction, AuditCategory, AuditEntry, AuditSource

PAGE_SIZE = 50
DEFAULT_PERIOD = "7d"


def show_value(value: Any) -> str:
    """A logged value as a person reads it: lists joined, booleans as yes/no, nothing as an em dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def change_rows(entry: AuditEntry) -> list[tuple[str, str | None, str | None]]:
    """``(field, old, new)`` rows; old is None for a creation and new is None for a deletion."""
    rows = []
    for field, pair in (entry.changes or {}).items():
        if not isinstance(pair, list):  # a fact, not a change (an alert's trigger, a lockout's attempts)
            rows.append((field.replace("_", " "), None, show_value(pair)))
            continue
        old, new = (pair + [None, None])[:2]
        rows.append(
            (
                field.replace("_", " "),
                None if entry.action == AuditAction.CREATE else show_value(old),
                None if entry.action in (AuditAction.DELETE, AuditAction.REVOKE) else show_value(new),
            )
        )
    return rows


class SecurityLogView(PermissionRequiredMixin, View):
    """Filters: category (tabs), search (user or object), user, object type, action, source, period (default: the
    last 7 days) or a date range."""

    permission_required = "kcs.view_auditentry"

    def get(self, request):
        data = request.GET.copy()
        if not any(data.get(key) for key in ("period", "since", "until")):
            data["period"] = DEFAULT_PERIOD
        entries = AuditEntryFilter(data, queryset=AuditEntry.objects.order_by("-timestamp", "-id"))
        page = Paginator(entries.qs if entries.is_valid() else AuditEntry.objects.none(), PAGE_SIZE).get_page(
            data.get("page")
        )
        for entry in page.object_list:
            entry.change_rows = change_rows(entry)
        context = {
            "page_obj": page,
            "filters": entries.form,
            "selected": data,
            "actors": AuditEntry.objects.order_by("actor_name").values_list("actor_name", flat=True).distinct(),
            "object_types": AuditEntry.objects.order_by("object_type").values_list("object_type", flat=True).distinct(),
            "actions": AuditAction.choices,
            "sources": AuditSource.choices,
            "periods": PERIOD_CHOICES,
            "categories": AuditCategory.choices,
        }
        return render(request, "kcs/security_log.html", context)
