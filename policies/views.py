"""Screens for response policies and scopes. Thin: forms parse, :mod:`policies.services` writes and logs.

Every screen works without JavaScript; with htmx the search and the status toggle update the table in place
(the views answer an htmx request with the table or the row alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from kcs.rights import MANAGE_SCOPES, VIEW_SCOPES
from kcs.visibility import visibility_of
from notifications.models import NotificationIntegration
from policies import preview, services
from policies.forms import PolicyForm, ScopeForm, add_errors
from policies.models import ResponsePolicy, Scope
from policies.permissions import MANAGE_POLICIES, READ_ONLY_POLICY, VIEW_POLICIES
from policies.queries import (
    POLICY_SORTS,
    scopes_with_usage,
    search_policies,
    sort_policies,
    visible_policies,
    visible_scopes,
)
from policies.validation import ProtectedObject, ValidationFailed

PAGE_SIZE = 25
PREVIEW_FIELDS = ("name", "scopes", "trigger", "min_severity", "repeat_interval")
RESULTS_TARGET = "policy-results"  # the element htmx swaps when searching, sorting or paging


def _integrations() -> list[NotificationIntegration]:
    return list(NotificationIntegration.objects.order_by("kind", "name"))


def _safe_next(request, fallback: str) -> str:
    """Where to go back to after a toggle: the list as the person had it (search, sort, page), if local."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _visible(request, pk: int) -> ResponsePolicy:
    """The policy ``pk`` if the person sees it (with ``editable``); 404 otherwise, as if it did not exist."""
    return get_object_or_404(visible_policies(visibility_of(request)), pk=pk)


def _read_only(request, policy: ResponsePolicy):
    """The answer to a write on a policy the person sees but may not change: its read-only page, with why, as 403."""
    context = {"policy": policy, "refusal": READ_ONLY_POLICY, "read_only": not policy.editable}
    return render(request, "policies/policy_detail.html", context, status=403)


def _scope_choices(request, policy: ResponsePolicy | None = None):
    """The scopes the policy form offers: the person's, plus any the policy already has."""
    visibility = visibility_of(request)
    offered = visible_scopes(visibility, Scope.objects.all())
    if policy is not None and not visibility.holds_global:
        offered = Scope.objects.filter(Q(pk__in=visibility.held_ids) | Q(policies=policy)).distinct()
    return offered.order_by("-is_global", "name")


def _saved(form, save: Callable[[], Any]) -> Any | None:
    """``save()`` the valid form through a service; None when the form or the service refused (messages shown)."""
    if not form.is_valid():
        return None
    try:
        return save()
    except ValidationFailed as exc:
        # e.g. a name taken a moment ago by someone else
        add_errors(form, exc.errors)
        for index, row_messages in exc.rows.items():
            for message in row_messages:
                form.methods.add_non_form_error(f"Notification method {index + 1}: {message}")
        return None


class PolicyListView(PermissionRequiredMixin, View):
    """The Response policies table: search by name, sort, paginate; Add/toggle/delete for managers."""

    permission_required = VIEW_POLICIES

    def get(self, request):
        search = request.GET.get("q", "").strip()
        visible = visible_policies(visibility_of(request))
        queryset, sort = sort_policies(search_policies(visible, search), request.GET.get("sort"))
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "page_obj": page,
            "policies": page.object_list,
            "search": search,
            "sort": sort,
            "sort_columns": {key: ("-" + key if sort == key else key) for key in POLICY_SORTS},
            "can_manage": request.user.has_perm(MANAGE_POLICIES),
            "results_target": RESULTS_TARGET,
            "return_to": request.get_full_path(),  # where a row's toggle comes back to, without JavaScript
        }
        if request.htmx and request.htmx.target == RESULTS_TARGET:
            return render(request, "policies/_policy_results.html", context)
        return render(request, "policies/response_list.html", context)


class PolicyFormMixin:
    template_name = "policies/policy_form.html"

    def render_form(self, request, form, policy=None, status=200, **extra):
        context = {
            "form": form,
            "policy": policy,
            "has_integrations": bool(form.methods.form_kwargs["integrations"]),
            "preview_days": preview.DAYS_CHOICES,
            "chosen_days": preview.DEFAULT_DAYS,
            **extra,
        }
        return render(request, self.template_name, context, status=status)

    def render_preview(self, request, form, policy=None):
        """The form as submitted, with what it would have done (the Preview button: nothing is saved)."""
        form.is_valid()  # parses what it can; a draft needs no valid name to be previewed
        form.errors.pop("name", None)
        values = {key: form.cleaned_data[key] for key in PREVIEW_FIELDS if key in form.cleaned_data}
        if form.methods.is_valid():
            values["notification_methods"] = [choice for _, choice in form.methods.used_rows()]
        try:
            days = int(request.POST.get("preview_days", preview.DEFAULT_DAYS))
        except ValueError:
            days = preview.DEFAULT_DAYS
        result = None
        try:
            result = services.preview_policy(values, days, policy, visibility_of(request))
        except ValidationFailed as exc:
            add_errors(form, {key: messages for key, messages in exc.errors.items() if key != "days"})
        day_rows = []
        if result:
            saved_days = result["saved"]["per_day"] if result["saved"] else [None] * len(result["per_day"])
            day_rows = list(zip(result["per_day"], saved_days))
        return self.render_form(
            request, form, policy, previewing=True, preview=result, chosen_days=days, day_rows=day_rows
        )


class PolicyCreateView(PermissionRequiredMixin, PolicyFormMixin, View):
    permission_required = MANAGE_POLICIES

    def get(self, request):
        scopes = list(_scope_choices(request))
        # Global when offered; else the person's one scope, if they hold only one.
        chosen = [scope for scope in scopes if scope.is_global] or (scopes if len(scopes) == 1 else [])
        initial = {"enabled": True, "scopes": chosen}
        form = PolicyForm(initial=initial, integrations=_integrations(), scopes=_scope_choices(request))
        return self.render_form(request, form)

    def post(self, request):
        form = PolicyForm(request.POST, integrations=_integrations(), scopes=_scope_choices(request))
        if "preview" in request.POST:
            return self.render_preview(request, form)
        if policy := _saved(form, lambda: services.create_policy(request, form.values())):
            messages.success(request, f"Policy “{policy.name}” created.")
            return redirect("policies:response-list")
        return self.render_form(request, form, status=400)


class PolicyEditView(PermissionRequiredMixin, PolicyFormMixin, View):
    """The edit form for managers; a read-only page for people who may only view policies, or who see this one
    only because it touches one of their scopes (KCS's rule (c) alone)."""

    permission_required = VIEW_POLICIES

    def get(self, request, pk: int):
        policy = _visible(request, pk)
        if not request.user.has_perm(MANAGE_POLICIES) or not policy.editable:
            return render(request, "policies/policy_detail.html", {"policy": policy, "read_only": not policy.editable})
        form = PolicyForm(instance=policy, integrations=_integrations(), scopes=_scope_choices(request, policy))
        return self.render_form(request, form, policy)

    def post(self, request, pk: int):
        policy = _visible(request, pk)
        if not request.user.has_perm(MANAGE_POLICIES):
            raise PermissionDenied
        if not policy.editable:
            return _read_only(request, policy)
        scopes = _scope_choices(request, policy)
        form = PolicyForm(request.POST, instance=policy, integrations=_integrations(), scopes=scopes)
        if "preview" in request.POST:
            return self.render_preview(request, form, ResponsePolicy.objects.get(pk=pk))
        if _saved(form, lambda: services.update_policy(request, policy, form.values())):
            messages.success(request, f"Policy “{policy.name}” saved.")
            return redirect("policies:response-list")
        return self.render_form(request, form, policy, status=400)


class PolicyToggleView(PermissionRequiredMixin, View):
    """Enable or disable a policy. The form sends the wanted state, so a double click does not undo itself."""

    permission_required = MANAGE_POLICIES

    def post(self, request, pk: int):
        policy = _visible(request, pk)
        if not policy.editable:
            return _read_only(request, policy)
        wanted = request.POST.get("enabled")
        enabled = wanted == "1" if wanted in ("0", "1") else not policy.enabled
        services.set_policy_enabled(request, policy, enabled)
        if request.htmx:
            return render(request, "policies/_policy_row.html", {"policy": policy, "can_manage": True})
        state = "enabled" if policy.enabled else "disabled"
        messages.success(request, f"Policy “{policy.name}” {state}.")
        return redirect(_safe_next(request, reverse("policies:response-list")))


class PolicyDeleteView(PermissionRequiredMixin, View):
    """A confirmation page (GET), then the deletion (POST)."""

    permission_required = MANAGE_POLICIES

    def get(self, request, pk: int):
        policy = _visible(request, pk)
        if not policy.editable:
            return _read_only(request, policy)
        return render(
            request,
            "policies/confirm_delete.html",
            {
                "object": policy,
                "kind": "policy",
                "consequence": "It stops acting on new events at once. Notifications it already sent stay in the "
                "delivery log.",
                "cancel_url": reverse("policies:response-list"),
            },
        )

    def post(self, request, pk: int):
        policy = _visible(request, pk)
        if not policy.editable:
            return _read_only(request, policy)
        name = policy.name
        services.delete_policy(request, policy)
        messages.success(request, f"Policy “{name}” deleted.")
        return redirect("policies:response-list")


def _visible_scope(request, pk: int) -> Scope:
    """The scope ``pk`` if the person holds it; 404 otherwise."""
    return get_object_or_404(visible_scopes(visibility_of(request), Scope.objects.all()), pk=pk)


class ScopeListView(PermissionRequiredMixin, View):
    permission_required = VIEW_SCOPES

    def get(self, request):
        return render(
            request,
            "policies/scope_list.html",
            {
                "scopes": visible_scopes(visibility_of(request), scopes_with_usage()),
                "can_add": request.user.has_perm(MANAGE_SCOPES),
                "can_change": request.user.has_perm(MANAGE_SCOPES),
                "can_delete": request.user.has_perm(MANAGE_SCOPES),
            },
        )


class ScopeCreateView(PermissionRequiredMixin, View):
    permission_required = MANAGE_SCOPES

    def get(self, request):
        return render(request, "policies/scope_form.html", {"form": ScopeForm()})

    def post(self, request):
        form = ScopeForm(request.POST)
        if scope := _saved(form, lambda: services.create_scope(request, form.values())):
            messages.success(request, f"Scope “{scope.name}” created.")
            return redirect("policies:scope-list")
        return render(request, "policies/scope_form.html", {"form": form}, status=400)


class ScopeEditView(PermissionRequiredMixin, View):
    """The edit form; Global and people without the change right get a read-only page."""

    permission_required = VIEW_SCOPES

    def get(self, request, pk: int):
        scope = get_object_or_404(visible_scopes(visibility_of(request), scopes_with_usage()), pk=pk)
        if scope.is_global or not request.user.has_perm(MANAGE_SCOPES):
            return render(request, "policies/scope_detail.html", {"scope": scope})
        return render(request, "policies/scope_form.html", {"form": ScopeForm(instance=scope), "scope": scope})

    def post(self, request, pk: int):
        scope = _visible_scope(request, pk)
        if not request.user.has_perm(MANAGE_SCOPES):
            raise PermissionDenied
        if scope.is_global:
            messages.error(request, "The Global scope is built in and cannot be changed.")
            return redirect("policies:scope-list")
        form = ScopeForm(request.POST, instance=scope)
        if _saved(form, lambda: services.update_scope(request, scope, form.values())):
            messages.success(request, f"Scope “{scope.name}” saved.")
            return redirect("policies:scope-list")
        return render(request, "policies/scope_form.html", {"form": form, "scope": scope}, status=400)


class ScopeDeleteView(PermissionRequiredMixin, View):
    permission_required = MANAGE_SCOPES

    def get(self, request, pk: int):
        scope = _visible_scope(request, pk)
        blocked = None
        if scope.is_global:
            blocked = "The Global scope is built in and cannot be deleted."
        elif names := services.policies_using(scope):
            blocked = services.scope_in_use_message(names)
        return render(
            request,
            "policies/confirm_delete.html",
            {
                "object": scope,
                "kind": "scope",
                "blocked": blocked,
                "consequence": "Its patterns are removed for good.",
                "cancel_url": reverse("policies:scope-list"),
            },
        )

    def post(self, request, pk: int):
        scope = _visible_scope(request, pk)
        try:
            services.delete_scope(request, scope)
        except ProtectedObject as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Scope “{scope.name}” deleted.")
        return redirect("policies:scope-list")
