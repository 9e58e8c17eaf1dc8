"""Screens of silences (*Policies → Silences*): list, add (also prefilled from an event), detail with what the
silence muted, edit (a new version) and expire. Thin: the form parses, :mod:`policies.silences` writes and logs.

Everything works without JavaScript; with htmx the list's search and the form's Preview button update their part
of the page in place.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from events.filters import visible_events
from kcs.rights import VIEW_INTEGRATIONS
from kcs.visibility import policy_q, visibility_of
from policies import silences
from policies.models import ResponsePolicy, Silence, SilenceState
from policies.permissions import MANAGE_SILENCES, VIEW_SILENCES
from policies.silence_forms import SilenceForm, add_silence_errors, matcher_fields
from policies.silence_panel import PREFILL_PARAMETER
from policies.silence_preview import would_have_muted
from policies.silence_queries import (
    CURRENT,
    STATE_FILTERS,
    in_state,
    muted_events,
    muted_notifications,
    policy_names,
    search,
    silences_for_list,
    versions,
)
from policies.silence_rules import MATCHER_LABELS
from policies.silence_scopes import visible_silences
from policies.validation import ValidationFailed

PAGE_SIZE = 25
MUTED_SHOWN = 50
RESULTS_TARGET = "silence-results"
VIEW_EVENTS = "events.view_securityevent"


def describe(silence: Silence, names: dict[int, str]) -> dict:
    """What a row or page shows of a silence: matchers with labels, policy names, state."""
    return {
        "silence": silence,
        "state": silence.state_at(timezone.now()),
        "matchers": [(MATCHER_LABELS.get(key, key), value) for key, value in silence.matchers.items()],
        "policies": [(pk, names.get(pk)) for pk in silence.policies],
    }


class SilenceListView(PermissionRequiredMixin, View):
    permission_required = VIEW_SILENCES

    def get(self, request):
        state = request.GET.get("state") or CURRENT
        if state not in STATE_FILTERS:
            state = CURRENT
        text = request.GET.get("q", "").strip()
        visible = visible_silences(visibility_of(request), silences_for_list())
        queryset = search(in_state(visible, state, timezone.now()), text)
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        names = policy_names(page.object_list, visibility_of(request))
        context = {
            "page_obj": page,
            "rows": [describe(silence, names) for silence in page.object_list],
            "state": state,
            "states": STATE_FILTERS.items(),
            "search": text,
            "can_manage": request.user.has_perm(MANAGE_SILENCES),
            "results_target": RESULTS_TARGET,
        }
        if request.htmx and request.htmx.target == RESULTS_TARGET:
            return render(request, "policies/_silence_results.html", context)
        return render(request, "policies/silence_list.html", context)


def _visible(request, pk: int, queryset=None) -> Silence:
    """The silence ``pk`` if the person sees it; 404 otherwise, as if it did not exist."""
    queryset = Silence.objects.all() if queryset is None else queryset
    return get_object_or_404(visible_silences(visibility_of(request), queryset), pk=pk)


def _policy_choices(request, silence: Silence | None = None):
    """The policies the form offers: those the person sees, plus those the silence already names."""
    condition = policy_q(visibility_of(request))
    if silence is not None and silence.policies and condition:
        condition |= Q(pk__in=silence.policies)
    return ResponsePolicy.objects.filter(condition).order_by("name")


class SilenceFormMixin:
    def render_form(self, request, form, silence=None, status=200, **extra):
        context = {"form": form, "matcher_fields": matcher_fields(form), "silence": silence, **extra}
        return render(request, "policies/silence_form.html", context, status=status)

    def render_preview(self, request, form, silence=None):
        """The form as submitted, with how many events of the last 7 days it would have muted (nothing saved)."""
        result = None
        if form.is_valid():
            values = form.values()
            result = would_have_muted(values["matchers"], values["policies"], timezone.now())
        return self.render_form(request, form, silence, previewing=True, preview=result)

    def save(self, request, form, write):
        """``write()`` through a service when the form is valid; the new silence, or None (messages shown)."""
        if not form.is_valid():
            return None
        try:
            return write()
        except ValidationFailed as exc:
            add_silence_errors(form, exc.errors)
            return None


class SilenceCreateView(PermissionRequiredMixin, SilenceFormMixin, View):
    permission_required = MANAGE_SILENCES

    def get(self, request):
        initial = {"duration": SilenceForm.base_fields["duration"].initial}
        event = None
        event_id = request.GET.get(PREFILL_PARAMETER, "")
        if event_id.isascii() and event_id.isdigit() and request.user.has_perm(VIEW_EVENTS):
            # Only an event the person sees: one outside their scopes prefills nothing, as if it did not exist.
            visible = visible_events(request)
            event = visible.filter(pk=int(event_id)).first()
        if event is not None:
            initial = SilenceForm.initial_from_event(event)
        form = SilenceForm(initial=initial, policies=_policy_choices(request))
        return self.render_form(request, form, similar_to=event)

    def post(self, request):
        form = SilenceForm(request.POST, policies=_policy_choices(request))
        if "preview" in request.POST:
            return self.render_preview(request, form)
        if silence := self.save(request, form, lambda: silences.create_silence(request, form.values())):
            messages.success(request, f"Silence #{silence.pk} created.")
            return redirect("policies:silence-detail", pk=silence.pk)
        return self.render_form(request, form, status=400)


class SilenceEditView(PermissionRequiredMixin, SilenceFormMixin, View):
    """Editing stores a new version and expires this one."""

    permission_required = MANAGE_SILENCES

    def get(self, request, pk: int):
        silence = _visible(request, pk)
        newer = Silence.objects.filter(replaces=silence).first()
        if newer is not None:
            messages.info(request, f"Silence #{silence.pk} was replaced by #{newer.pk}: edit the newest version.")
            return redirect("policies:silence-detail", pk=newer.pk)
        initial = SilenceForm.initial_from_silence(silence)
        return self.render_form(
            request, SilenceForm(initial=initial, policies=_policy_choices(request, silence)), silence
        )

    def post(self, request, pk: int):
        silence = _visible(request, pk)
        form = SilenceForm(request.POST, policies=_policy_choices(request, silence))
        if "preview" in request.POST:
            return self.render_preview(request, form, silence)
        if created := self.save(request, form, lambda: silences.update_silence(request, silence, form.values())):
            messages.success(request, f"Silence #{created.pk} saved; it replaces #{silence.pk}, now expired.")
            return redirect("policies:silence-detail", pk=created.pk)
        return self.render_form(request, form, silence, status=400)


class SilenceDetailView(PermissionRequiredMixin, View):
    """The silence, its versions and what it muted (counts, the latest muted notifications and events)."""

    permission_required = VIEW_SILENCES

    def get(self, request, pk: int):
        visibility = visibility_of(request)
        silence = _visible(request, pk, Silence.objects.select_related("created_by"))
        # What it muted, as far as the person sees it: notifications of their policies, events of their scopes.
        notifications = muted_notifications(silence)
        if not visibility.unrestricted:
            notifications = notifications.filter(policy__in=ResponsePolicy.objects.filter(policy_q(visibility)))
        events = muted_events(silence).filter(visibility.resource_q())
        can_see_events = request.user.has_perm(VIEW_EVENTS)
        can_see_notifications = request.user.has_perm(VIEW_INTEGRATIONS)  # the delivery log's right
        context = describe(silence, policy_names([silence], visibility))
        context.update(
            versions=versions(silence),
            muted_notification_count=notifications.count(),
            muted_event_count=events.count(),
            notifications=list(notifications.select_related("integration")[:MUTED_SHOWN])
            if can_see_notifications
            else [],
            events=list(events[:MUTED_SHOWN]) if can_see_events else [],
            shown=MUTED_SHOWN,
            can_manage=request.user.has_perm(MANAGE_SILENCES),
            expired=context["state"] == SilenceState.EXPIRED,
        )
        return render(request, "policies/silence_detail.html", context)


class SilenceExpireView(PermissionRequiredMixin, View):
    """A confirmation page (GET), then the expiry (POST)."""

    permission_required = MANAGE_SILENCES

    def get(self, request, pk: int):
        silence = _visible(request, pk)
        names = policy_names([silence], visibility_of(request))
        return render(request, "policies/silence_expire.html", describe(silence, names))

    def post(self, request, pk: int):
        silence = _visible(request, pk)
        if silences.expire_silence(request, silence):
            messages.success(request, f"Silence #{silence.pk} expired: matching events notify again.")
        else:
            messages.info(request, f"Silence #{silence.pk} had already expired.")
        return redirect("policies:silence-detail", pk=silence.pk)
