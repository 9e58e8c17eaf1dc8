"""Screens of risk acceptances: Policies → Risk acceptance (list, one acceptance with Extend and Cancel) and the
Accept risk page for one or more events. Thin: forms parse, :mod:`events.acceptances` checks, writes and logs.

A person sees the acceptances on images in their active scopes (and those on every image); one outside them is a
404, and the events they may accept are the events they see."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from events import acceptances
from events.acceptance_filters import SORTS, AcceptanceFilter, sort_acceptances, visible_acceptances
from events.acceptance_forms import AcceptForm, PeriodForm
from events.acceptance_rules import AcceptanceRefused, event_problem
from events.filters import visible_events
from events.models import AcceptanceState, RiskAcceptance, SecurityEvent
from events.permissions import MANAGE_RISKS, VIEW_EVENTS, VIEW_RISKS
from kcs.bounds import id_in_range
from kcs.visibility import visibility_of

PAGE_SIZE = 25
MAX_SELECTED = 200  # events accepted at once from the list (a page holds 50)


class AcceptanceListView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """Every acceptance the person sees, cancelled and expired ones too: search, filters by state and type,
    sorting."""

    permission_required = VIEW_RISKS

    def get(self, request):
        acceptance_filter = AcceptanceFilter(request.GET, queryset=visible_acceptances(visibility_of(request)))
        queryset = acceptance_filter.qs if acceptance_filter.is_valid() else RiskAcceptance.objects.none()
        queryset, sort = sort_acceptances(queryset, request.GET.get("sort"))
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        params = request.GET.copy()
        params.pop("page", None)
        params.pop("sort", None)
        now = timezone.now()
        rows = [(acceptance, acceptance.state_at(now)) for acceptance in page.object_list]
        return render(
            request,
            "events/acceptance_list.html",
            {
                "filter": acceptance_filter,
                "page_obj": page,
                "rows": rows,
                "sort": sort,
                "sort_columns": {key: ("-" + key if sort == key else key) for key in SORTS},
                "query": params.urlencode(),
                "filtered": any(value for key, value in params.items()),
                "can_manage": request.user.has_perm(MANAGE_RISKS),
                "active": AcceptanceState.ACTIVE,
            },
        )


def _detail(request, acceptance: RiskAcceptance, form: PeriodForm | None = None, status: int = 200):
    now = timezone.now()
    state = acceptance.state_at(now)
    can_manage = request.user.has_perm(MANAGE_RISKS) and state == AcceptanceState.ACTIVE
    return render(
        request,
        "events/acceptance_detail.html",
        {
            "acceptance": acceptance,
            "state": state,
            "can_manage": can_manage,
            "form": (form or PeriodForm()) if can_manage else None,
        },
        status=status,
    )


class AcceptanceDetailView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = VIEW_RISKS

    def get(self, request, pk: int):
        return _detail(request, _visible(request, pk))


class AcceptanceExtendView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """A new end for an active acceptance, later or earlier."""

    permission_required = (VIEW_RISKS, MANAGE_RISKS)

    def post(self, request, pk: int):
        acceptance = _visible(request, pk)
        form = PeriodForm(request.POST)
        if form.is_valid():
            try:
                acceptances.extend(request, acceptance, form.period_values())
            except AcceptanceRefused as refused:
                if "state" in refused.errors:
                    messages.error(request, refused.errors["state"][0])
                    return redirect("events:acceptance-detail", pk=pk)
                form.show_refusal(refused)
            else:
                until = _until(acceptance)
                messages.success(request, f"Risk acceptance of {acceptance.finding_id} now lasts {until}.")
                return redirect("events:acceptance-detail", pk=pk)
        return _detail(request, acceptance, form, status=400)


class AcceptanceCancelView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = (VIEW_RISKS, MANAGE_RISKS)

    def post(self, request, pk: int):
        acceptance = _visible(request, pk)
        try:
            acceptances.cancel(request, acceptance)
        except AcceptanceRefused as refused:
            messages.error(request, refused.errors["state"][0])
        else:
            messages.success(
                request, f"Risk acceptance of {acceptance.finding_id} cancelled: its findings notify again."
            )
        return redirect("events:acceptance-detail", pk=pk)


def _visible(request, pk: int) -> RiskAcceptance:
    """The acceptance ``pk`` when the person sees it; 404 otherwise."""
    return get_object_or_404(visible_acceptances(visibility_of(request)), pk=pk)


def _until(acceptance: RiskAcceptance) -> str:
    if acceptance.expires_at is None:
        return "without end (unlimited)"
    return f"until {timezone.localtime(acceptance.expires_at):%Y-%m-%d %H:%M}"


def _selected_events(request, values: list[str]) -> list[SecurityEvent]:
    """The events named by ``values`` that the person sees (others are left out, as if they did not exist)."""
    ids = {
        int(value)
        for value in values
        if value.isascii() and value.isdigit() and len(value) <= 19 and id_in_range(int(value))
    }
    events = visible_events(request).filter(pk__in=ids)
    return list(events.order_by("-id")[:MAX_SELECTED])


class AcceptEventsView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """Accept the risk of the findings of one or more events (``?event=<id>``, repeated): the event page's
    Accept risk form and the events list's selection both come here."""

    permission_required = (VIEW_EVENTS, MANAGE_RISKS)

    def _render(self, request, events, form, status=200):
        rows = [(event, event_problem(event)) for event in events]
        return render(
            request,
            "events/accept.html",
            {"form": form, "rows": rows, "acceptable": [e for e, problem in rows if problem is None]},
            status=status,
        )

    def get(self, request):
        return self._render(request, _selected_events(request, request.GET.getlist("event")), AcceptForm())

    def post(self, request):
        events = _selected_events(request, request.POST.getlist("event"))
        form = AcceptForm(request.POST)
        if form.is_valid():
            try:
                results = acceptances.accept_events(request, events, form.values())
            except AcceptanceRefused as refused:
                form.show_refusal(refused)
            else:
                new = sum(1 for _, created in results if created)
                updated = len(results) - new
                parts = [f"{new} new" if new else "", f"{updated} updated" if updated else ""]
                messages.success(request, f"Risk accepted ({', '.join(p for p in parts if p)}).")
                if len(events) == 1:
                    return redirect("events:detail", pk=events[0].pk)
                return redirect(reverse("events:acceptance-list"))
        return self._render(request, events, form, status=400)
