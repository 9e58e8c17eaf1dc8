"""Screens: notification outputs per type (list, add, view, edit, delete, Test) and the delivery log (+ Retry).

One right reads integrations and their delivery log, one manages them (add, change, Test, delete, Retry).

Thin: the per-kind forms validate, :mod:`notifications.services` writes and logs. Everything works without
JavaScript; with htmx the Test button shows its result in place.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from events.filters import visible_events
from kcs.rights import MANAGE_INTEGRATIONS, VIEW_INTEGRATIONS
from kcs.visibility import visibility_of
from notifications import services
from notifications.channels import CHANNELS, Channel
from notifications.forms import NotificationFilterForm
from notifications.models import Notification, NotificationIntegration
from notifications.scoping import visible_notifications, visible_policies, visible_policy_names
from notifications.secrets import MASK
from notifications.templating import EVENT_VARIABLES

PAGE_SIZE = 50
RECENT_NOTIFICATIONS = 10
VIEW_EVENTS = "events.view_securityevent"


def _channel(kind: str) -> type[Channel]:
    try:
        return CHANNELS[kind]
    except KeyError:
        raise Http404("No such output type.") from None


def _integration(kind: str, pk: int) -> NotificationIntegration:
    return get_object_or_404(NotificationIntegration, pk=pk, kind=kind)


def _back(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def settings_rows(integration: NotificationIntegration) -> list[tuple[str, str]]:
    """(label, shown value) for each setting of an integration; secrets only say whether one is stored."""
    form = services.form_for(integration.kind, instance=integration)
    stored = form.stored_secrets
    rows = []
    for name, field in form.fields.items():
        if name in ("name", "enabled"):
            continue
        if name in form.secret_fields:
            shown = "unreadable — enter it again" if form.secrets_unreadable else MASK if name in stored else "not set"
            rows.append((field.label, shown))
            continue
        value = form.initial.get(name)
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "Yes" if value else "No"
        elif isinstance(value, str) and len(value) > 80:  # a pasted certificate: its start says enough
            value = value[:77] + "…"
        choices = dict(getattr(field, "choices", []) or [])
        rows.append((field.label, str(choices.get(value, value)) if value not in (None, "") else "—"))
    return rows


class IntegrationIndexView(PermissionRequiredMixin, View):
    """Administration → Integrations: each output type with its integrations."""

    permission_required = VIEW_INTEGRATIONS

    def get(self, request):
        by_kind: dict[str, list[NotificationIntegration]] = {kind: [] for kind in CHANNELS}
        for integration in NotificationIntegration.objects.order_by("name"):
            by_kind.setdefault(integration.kind, []).append(integration)
        kinds = [{"channel": channel, "integrations": by_kind[kind]} for kind, channel in CHANNELS.items()]
        return render(
            request,
            "notifications/integration_index.html",
            {
                "kinds": kinds,
                "can_add": request.user.has_perm(MANAGE_INTEGRATIONS),
            },
        )


class IntegrationListView(PermissionRequiredMixin, View):
    """The integrations of one output type, with Test, Edit and Delete."""

    permission_required = VIEW_INTEGRATIONS

    def get(self, request, kind: str):
        channel = _channel(kind)
        integrations = (
            NotificationIntegration.objects.filter(kind=kind)
            .annotate(policy_count=Count("notification_methods__policy", distinct=True))
            .order_by("name")
        )
        rows = [{"integration": i, "destination": channel(i).destination()} for i in integrations]
        return render(
            request,
            "notifications/integration_list.html",
            {
                "channel": channel,
                "kind": kind,
                "rows": rows,
                "can_add": request.user.has_perm(MANAGE_INTEGRATIONS),
                "can_change": request.user.has_perm(MANAGE_INTEGRATIONS),
                "can_delete": request.user.has_perm(MANAGE_INTEGRATIONS),
            },
        )


class IntegrationFormView(PermissionRequiredMixin, View):
    """Add (no ``pk``) or edit an integration of one output type."""

    def get_permission_required(self):
        return [MANAGE_INTEGRATIONS]

    def _render(self, request, kind, form, integration=None, status=200, preview=None):
        return render(
            request,
            "notifications/integration_form.html",
            {
                "channel": _channel(kind),
                "kind": kind,
                "form": form,
                "integration": integration,
                "templates": form.template_help(),
                "event_variables": EVENT_VARIABLES,
                "preview": preview,
                "preview_errors": self._preview_errors(form) if preview else [],
                "preview_event": request.POST.get("preview_event", "") if request.method == "POST" else "",
                "can_pick_event": request.user.has_perm(VIEW_EVENTS),
            },
            status=status,
        )

    def _preview(self, request, kind, form, integration):
        """The form again with the message its settings would send (nothing saved): for a stored event when one is
        named and the person may see events, else for sample events."""
        form.is_valid()
        event, wanted = None, request.POST.get("preview_event", "").strip()
        if wanted:
            if not request.user.has_perm(VIEW_EVENTS):
                raise PermissionDenied
            # Only an event the person sees: one outside their scopes is "no event", as if it did not exist.
            visible = visible_events(request)
            if not wanted.isascii() or not wanted.isdigit() or not (event := visible.filter(pk=int(wanted)).first()):
                form.add_error(None, f"No event #{wanted} to preview with.")
                return self._render(request, kind, form, integration, status=400)
        preview = services.preview_message(kind, form, event)
        return self._render(request, kind, form, integration, preview=preview)

    def _preview_errors(self, form) -> list[str]:
        """The template errors, shown in the preview too (htmx replaces only the preview)."""
        if form.errors is None or not form.is_bound:
            return []
        return [
            f"{form.fields[slot.key].label}: {message} (the default is shown instead)"
            for slot in form.template_slots
            for message in form.errors.get(slot.key, [])
        ]

    def get(self, request, kind: str, pk: int | None = None):
        _channel(kind)
        integration = _integration(kind, pk) if pk else None
        return self._render(request, kind, services.form_for(kind, instance=integration), integration)

    def post(self, request, kind: str, pk: int | None = None):
        _channel(kind)
        integration = _integration(kind, pk) if pk else None
        form = services.form_for(kind, request.POST, instance=integration)
        if "preview" in request.POST:
            return self._preview(request, kind, form, integration)
        if not form.is_valid():
            return self._render(request, kind, form, integration, status=400)
        saved = services.save_integration(request, kind, form, integration)
        messages.success(request, f"Integration “{saved.name}” {'saved' if integration else 'created'}.")
        return redirect("notifications:integration-detail", kind=kind, pk=saved.pk)


class IntegrationDetailView(PermissionRequiredMixin, View):
    permission_required = VIEW_INTEGRATIONS

    def get(self, request, kind: str, pk: int):
        channel = _channel(kind)
        integration = _integration(kind, pk)
        visibility = visibility_of(request)
        return render(
            request,
            "notifications/integration_detail.html",
            {
                "channel": channel,
                "kind": kind,
                "integration": integration,
                "destination": channel(integration).destination(),
                "secrets_error": services.secrets_error(integration),
                "rows": settings_rows(integration),
                "policies": visible_policy_names(visibility, services.policies_using(integration)),
                "recent": visible_notifications(
                    visibility, Notification.objects.filter(integration=integration)
                ).annotate(event_count=Count("events"))[:RECENT_NOTIFICATIONS],
                "can_change": request.user.has_perm(MANAGE_INTEGRATIONS),
                "can_delete": request.user.has_perm(MANAGE_INTEGRATIONS),
                "can_view_log": request.user.has_perm(VIEW_INTEGRATIONS),
            },
        )


class IntegrationDeleteView(PermissionRequiredMixin, View):
    """A confirmation page (GET), then the deletion (POST); refused while a policy uses the integration."""

    permission_required = MANAGE_INTEGRATIONS

    def _render(self, request, integration, blocked: str = "", status: int = 200):
        # The product's one confirmation page (shared with policies and scopes).
        return render(
            request,
            "policies/confirm_delete.html",
            {
                "object": integration,
                "kind": "integration",
                "blocked": blocked,
                "consequence": "It stops receiving messages at once. Notifications it already delivered stay in the "
                "delivery log.",
                "cancel_url": reverse("notifications:integration-detail", args=[integration.kind, integration.pk]),
            },
            status=status,
        )

    def get(self, request, kind: str, pk: int):
        integration = _integration(kind, pk)
        users = services.policies_using(integration)
        blocked = str(services.IntegrationInUse(integration, users).seen_by(visibility_of(request))) if users else ""
        return self._render(request, integration, blocked)

    def post(self, request, kind: str, pk: int):
        integration = _integration(kind, pk)
        name = integration.name
        try:
            services.delete_integration(request, integration)
        except services.IntegrationInUse as exc:
            refusal = str(exc.seen_by(visibility_of(request)))
            messages.error(request, refusal)
            return self._render(request, integration, refusal, status=409)
        messages.success(request, f"Integration “{name}” deleted.")
        return redirect("notifications:integration-list", kind=kind)


class IntegrationTestView(PermissionRequiredMixin, View):
    """Send a real test message now and show the result (in place with htmx)."""

    permission_required = MANAGE_INTEGRATIONS

    def post(self, request, kind: str, pk: int):
        integration = _integration(kind, pk)
        ok, text = services.send_test(request, integration)
        integration.refresh_from_db()
        if request.htmx:
            return render(request, "notifications/_test_result.html", {"integration": integration})
        (messages.success if ok else messages.error)(request, f"Test of “{integration.name}”: {text}")
        return redirect(_back(request, reverse("notifications:integration-detail", args=[kind, pk])))


def _visible(request, pk: int) -> Notification:
    """The notification ``pk`` if the person sees its policy; 404 otherwise, as if it did not exist."""
    return get_object_or_404(visible_notifications(visibility_of(request), Notification.objects.all()), pk=pk)


class NotificationListView(PermissionRequiredMixin, View):
    """The delivery log: every message with policy, integration, events, status, attempts, error, sent time."""

    permission_required = VIEW_INTEGRATIONS

    def get(self, request):
        visibility = visibility_of(request)
        form = NotificationFilterForm(
            request.GET or None,
            policies=visible_policies(visibility).only("id", "name").order_by("name"),
            integrations=NotificationIntegration.objects.only("id", "name").order_by("name"),
        )
        queryset = (
            visible_notifications(visibility, Notification.objects.filter(**form.filters()))
            .annotate(event_count=Count("events"))
            .order_by("-created_at", "-id")
        )
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "notifications/notification_list.html",
            {
                "form": form,
                "page_obj": page,
                "notifications": page.object_list,
                "query": query.urlencode(),
                "can_retry": request.user.has_perm(MANAGE_INTEGRATIONS),
            },
        )


class NotificationDetailView(PermissionRequiredMixin, View):
    permission_required = VIEW_INTEGRATIONS
    EVENTS_SHOWN = 200

    def get(self, request, pk: int):
        notification = _visible(request, pk)
        events = notification.events.order_by("-severity", "-id")
        return render(
            request,
            "notifications/notification_detail.html",
            {
                "notification": notification,
                "events": events[: self.EVENTS_SHOWN],
                "event_count": events.count(),
                "can_retry": request.user.has_perm(MANAGE_INTEGRATIONS),
            },
        )


class NotificationRetryView(PermissionRequiredMixin, View):
    permission_required = MANAGE_INTEGRATIONS

    def post(self, request, pk: int):
        notification = _visible(request, pk)
        if services.retry(request, notification):
            messages.success(request, f"Notification #{pk} queued to be sent again.")
        else:
            messages.error(
                request,
                f"Notification #{pk} is {notification.get_status_display().lower()}; "
                "only a failed notification can be retried.",
            )
        return redirect(_back(request, reverse("notifications:notification-list")))
