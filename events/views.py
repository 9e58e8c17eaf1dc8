"""Screens of security events: the filtered list and one event with what was done about it.

Both show only the events in the person's active scopes (:mod:`kcs.visibility`): an event outside them is a 404.
"""

from __future__ import annotations

import json

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.generic import TemplateView

from events.acceptance_forms import AcceptForm
from events.acceptance_index import covering_each
from events.acceptance_rules import event_problem
from events.filters import EventFilter, visible_events
from events.models import Extent, SecurityEvent
from events.panels import panels_for
from events.permissions import MANAGE_RISKS

PAGE_SIZE = 50


def as_text(value) -> str:
    """A details value as a person reads it: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class EventAccessMixin(LoginRequiredMixin, PermissionRequiredMixin):
    permission_required = "events.view_securityevent"


class EventListView(EventAccessMixin, TemplateView):
    """Newest first; "Older" pages by id (keyset), so the page costs the same with ten million events."""

    template_name = "events/event_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        before = params.pop("before", [None])[-1]
        event_filter = EventFilter(params, queryset=visible_events(self.request))
        events = event_filter.qs if event_filter.is_valid() else SecurityEvent.objects.none()
        if before and before.isascii() and before.isdigit():  # "²".isdigit() too, but int("²") fails
            events = events.filter(id__lt=int(before))
        page = list(events.order_by("-id")[: PAGE_SIZE + 1])
        older = page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None
        shown = page[:PAGE_SIZE]
        can_accept = self.request.user.has_perm(MANAGE_RISKS)
        # One query for the page: which events an active risk acceptance covers.
        accepted = covering_each(shown, timezone.now())
        for event in shown:
            event.acceptance = accepted.get(event.id)
            event.acceptable = can_accept and event_problem(event) is None
        context.update(
            filter=event_filter,
            events=shown,
            can_accept=can_accept,
            older_query=f"{params.urlencode()}&before={older}" if older else None,
            filtered=any(v for k, v in params.items()),
        )
        return context


class EventDetailView(EventAccessMixin, TemplateView):
    template_name = "events/event_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        event = get_object_or_404(visible_events(self.request).select_related("batch"), pk=kwargs["pk"])
        notifications = list(event.notifications.select_related("policy", "integration").order_by("created_at", "id"))
        policies = {}
        for notification in notifications:
            if not notification.is_siem_stream:  # a SIEM stream's row carries the event for no policy
                policies.setdefault(notification.policy_id or notification.policy_name, notification)
        context.update(
            event=event,
            notifications=notifications,
            matched_policies=list(policies.values()),
            details=[(key, as_text(value)) for key, value in sorted(event.details.items())],
            panels=panels_for(self.request, event),
            acceptance=covering_each([event], timezone.now()).get(event.id),
            accept_refusal=event_problem(event),
        )
        if self.request.user.has_perm(MANAGE_RISKS) and context["accept_refusal"] is None:
            # Without an image (a cluster's misconfiguration, say), every image is the extent that fits.
            initial = {} if event.repository else {"extent": Extent.ALL}
            context.update(accept_form=AcceptForm(initial=initial), accept_events=[event])
        return context
