"""Django admin for response policies and scopes, with the same rules and security event log as the screens.

The admin's forms apply the shared rules of :mod:`policies.validation` to show errors beside the fields; every save,
delete and action then goes through :mod:`policies.services`, which stores the change with its one security event
log entry in one transaction, as for the screens and the API.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import BaseInlineFormSet, ModelForm, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from policies import services
from policies.forms import ScopeRulesMixin, add_errors
from policies.models import NotificationMethod, ResponsePolicy, Scope, Silence
from policies.permissions import MANAGE_POLICIES, VIEW_POLICIES, VIEW_SILENCES
from policies.validation import MethodChoice, check_methods, check_policy

# The form fields the services take; the admin's forms show exactly these (and the policy's read-only dates).
POLICY_VALUES = ("name", "description", "enabled", "scopes", "trigger", "min_severity", "repeat_interval")
SCOPE_VALUES = ("name", "description", *Scope.PATTERN_FIELDS)


def _methods(formsets) -> list[MethodChoice]:
    """The kept rows of the notification method inline, in the order of their positions."""
    rows = [
        form.cleaned_data
        for formset in formsets
        if formset.model is NotificationMethod
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("integration")
    ]
    rows.sort(key=lambda data: data.get("position") or 0)
    return [MethodChoice(data["integration"]) for data in rows]


class PolicyAdminForm(ModelForm):
    class Meta:
        model = ResponsePolicy
        fields = POLICY_VALUES

    def validate_unique(self):
        # Checked ignoring case in clean() by the shared rules.
        pass

    def clean(self):
        cleaned = super().clean()
        values = {
            key: cleaned[key]
            for key in ("name", "scopes", "trigger", "min_severity", "repeat_interval")
            if key in cleaned
        }
        errors, _ = check_policy(values, self.instance if self.instance.pk else None)
        add_errors(self, errors)
        return cleaned


class MethodInlineFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        general, rows = check_methods(_methods([self]))
        problems = general + [message for row in rows.values() for message in row]
        if problems:
            raise ValidationError(problems)


class NotificationMethodInline(admin.TabularInline):
    model = NotificationMethod
    formset = MethodInlineFormSet
    fields = ["position", "integration"]
    ordering = ["position", "id"]
    extra = 1

    def _can_manage(self, request) -> bool:
        return request.user.has_perm(MANAGE_POLICIES)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_POLICIES) or self._can_manage(request)

    def has_add_permission(self, request, obj=None):
        return self._can_manage(request)

    def has_change_permission(self, request, obj=None):
        return self._can_manage(request)

    def has_delete_permission(self, request, obj=None):
        return self._can_manage(request)


@admin.register(ResponsePolicy)
class ResponsePolicyAdmin(admin.ModelAdmin):
    form = PolicyAdminForm
    inlines = [NotificationMethodInline]
    list_display = ["name", "trigger", "min_severity", "status", "created_by", "updated_at"]
    list_filter = ["enabled", "trigger"]
    search_fields = ["name"]
    filter_horizontal = ["scopes"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    actions = ["enable_policies", "disable_policies"]

    # One "manage" right covers adding, changing and deleting policies, here as on the screens and in the API.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_POLICIES) or request.user.has_perm(MANAGE_POLICIES)

    def has_add_permission(self, request):
        return request.user.has_perm(MANAGE_POLICIES)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_POLICIES)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_POLICIES)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    # --- the per-row status switch ---------------------------------------------------------------------------
    def get_urls(self):
        toggle = self.admin_site.admin_view(require_POST(self.toggle_view))
        return [path("<id:pk>/toggle/", toggle, name="policies_responsepolicy_toggle"), *super().get_urls()]

    @admin.display(description="Status", ordering="enabled")
    def status(self, policy: ResponsePolicy) -> str:
        """The state alone; the changelist shows :meth:`status_switch` in its place (see get_list_display)."""
        return "Enabled" if policy.enabled else "Disabled"

    def get_list_display(self, request):
        # The switch needs the request (rights, the list's query string); a closure keeps it per request.
        def status(policy: ResponsePolicy) -> str:
            return self.status_switch(request, policy)

        status.short_description = "Status"  # type: ignore[attr-defined]
        status.admin_order_field = "enabled"  # type: ignore[attr-defined]
        return [status if column == "status" else column for column in super().get_list_display(request)]

    def status_switch(self, request, policy: ResponsePolicy) -> str:
        """The policy's state and, for managers, a button that flips it. The changelist is one form (the bulk
        actions'), and forms do not nest: the button posts that form, CSRF token included, to the toggle URL."""
        state = "Enabled" if policy.enabled else "Disabled"
        if not self.has_change_permission(request, policy):
            return state
        url = reverse("admin:policies_responsepolicy_toggle", args=[policy.pk])
        query = urlencode({"_changelist_filters": request.GET.urlencode()}) if request.GET else ""
        return format_html(
            '{} <button type="submit" class="button" formaction="{}{}" formmethod="post" name="enabled" value="{}" '
            'aria-label="{} {}">{}</button>',
            state,
            url,
            f"?{query}" if query else "",
            "0" if policy.enabled else "1",
            "Disable" if policy.enabled else "Enable",
            policy.name,
            "Disable" if policy.enabled else "Enable",
        )

    def toggle_view(self, request, pk: int):
        """Set one policy's ``enabled`` to the posted state (a double click does not undo itself), through the
        screens' service: audited, in one transaction. Back to the list as it was (search, filters)."""
        policy = get_object_or_404(ResponsePolicy, pk=pk)
        if not self.has_change_permission(request, policy):
            raise PermissionDenied
        wanted = request.POST.get("enabled")
        enabled = wanted == "1" if wanted in ("0", "1") else not policy.enabled
        services.set_policy_enabled(request, policy, enabled)
        self.message_user(
            request, f"Policy “{policy.name}” {'enabled' if policy.enabled else 'disabled'}.", messages.SUCCESS
        )
        changelist = reverse("admin:policies_responsepolicy_changelist")
        preserved = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        return HttpResponseRedirect(add_preserved_filters(preserved, changelist))

    def save_model(self, request, obj, form, change):
        # Nothing yet: the policy, its scopes and its methods are one change, stored by the service in save_related(),
        # where the inline rows are known.
        pass

    def save_related(self, request, form, formsets, change):
        values = {field: form.cleaned_data[field] for field in POLICY_VALUES}
        values["notification_methods"] = _methods(formsets)
        if change:
            services.update_policy(request, form.instance, values)
        else:
            services.create_policy(request, values, form.instance)

    def construct_change_message(self, request, form, formsets, add):
        # The inline rows were stored by the service, not by their formset; the admin's own history then
        # describes the policy's fields only (the security event log has the whole change).
        return super().construct_change_message(request, form, [], add)

    def delete_model(self, request, obj):
        services.delete_policy(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for policy in queryset:
                services.delete_policy(request, policy)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        with transaction.atomic():
            changed = sum(services.set_policy_enabled(request, policy, enabled) for policy in queryset)
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} polic{'y' if changed == 1 else 'ies'} {state}.", messages.SUCCESS)

    @admin.action(description="Enable selected policies", permissions=["change"])
    def enable_policies(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected policies", permissions=["change"])
    def disable_policies(self, request, queryset):
        self._set_enabled(request, queryset, False)


class ScopeAdminForm(ScopeRulesMixin, ModelForm):
    class Meta:
        model = Scope
        fields = SCOPE_VALUES


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    form = ScopeAdminForm
    list_display = ["name", "is_global", "clusters", "namespaces", "registries", "repositories"]
    list_filter = ["is_global"]
    search_fields = ["name"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_global:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_global:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # A scope in use or the Global scope is shown as protected, so the admin refuses to delete it.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for scope in objs:
            if scope.is_global:
                protected.append("Global: the built-in scope cannot be deleted")
            elif names := services.policies_using(scope):
                protected.append(f"{scope.name}: {services.scope_in_use_message(names)}")
        return deleted, counts, perms_needed, protected

    def save_model(self, request, obj, form, change):
        values = {field: form.cleaned_data[field] for field in SCOPE_VALUES}
        if change:
            services.update_scope(request, obj, values)
        else:
            services.create_scope(request, values, obj)

    def delete_model(self, request, obj):
        services.delete_scope(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for scope in queryset:
                services.delete_scope(request, scope)


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    """Silences, read-only: they are created, edited (as new versions) and expired on their screens or through the
    API, which check them and log each change."""

    list_display = ("__str__", "comment", "starts_at", "ends_at", "created_by", "replaces")
    search_fields = ("comment",)
    list_filter = ("ends_at",)
    readonly_fields = (
        "matchers",
        "policies",
        "starts_at",
        "ends_at",
        "comment",
        "created_by",
        "expired_at",
        "replaces",
    )

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_SILENCES)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
