"""Django admin for notification outputs and the delivery log.

Integrations are validated and written by :mod:`notifications.services` (the kind's rules, one transaction with its
audit entry), as on the screens and in the API; an invalid change shows its errors and stores nothing. The delivery
log is read-only, with a Retry action.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count

from notifications import services
from notifications.channels import kind_choices
from notifications.models import Notification, NotificationIntegration, NotificationStatus


class KindFilter(admin.SimpleListFilter):
    """Filter by output kind, listing the registry's kinds by their labels."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return kind_choices()

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class IntegrationAdminForm(forms.ModelForm):
    """Name and enabled flag, checked together with the stored settings by the service (the screens' rules)."""

    class Meta:
        model = NotificationIntegration
        fields = ["name", "enabled"]

    def validate_unique(self):
        # The service checks the name ignoring case, with the screens' message.
        pass

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = {"name": cleaned["name"], "enabled": cleaned["enabled"], "config": self.instance.config}
        try:
            self.settings = services.validate_integration(self.instance.kind, values, self.instance)
        except services.InvalidIntegration as exc:
            for path, message in exc.messages():
                if path[0] in self.fields:
                    self.add_error(path[0], message)
                else:
                    # Settings are read-only here: say which one is wrong, and where it can be fixed.
                    self.add_error(None, f"{' › '.join(path)}: {message} (change it on the Integrations page)")
        return cleaned


@admin.register(NotificationIntegration)
class NotificationIntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = ["name", "kind_label", "enabled", "last_test_at", "last_test_ok", "updated_at"]
    list_filter = [KindFilter, "enabled", "last_test_ok"]
    search_fields = ["name"]
    # Settings and secrets are edited on the integration screens (per-kind fields, masked secrets); the admin
    # changes the name and the enabled flag, and can delete. Every change goes through notifications.services.
    fields = ["name", "kind_label", "enabled", "config", "last_test_at", "last_test_ok", "last_test_message"]
    readonly_fields = ["kind_label", "config", "last_test_at", "last_test_ok", "last_test_message"]
    actions = ["enable", "disable"]

    @admin.display(description="Kind", ordering="kind")
    def kind_label(self, obj: NotificationIntegration) -> str:
        return obj.kind_label

    def has_add_permission(self, request):
        return False  # added on /integrations/<kind>/add/, where the kind's settings are entered

    def save_model(self, request, obj, form, change):
        services.write_integration(request, form.settings, obj)

    def get_deleted_objects(self, objs, request):
        # An integration that policies use is shown as protected, so the admin refuses to delete it.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for integration in objs:
            if names := services.policies_using(integration):
                protected.append(str(services.IntegrationInUse(integration, names)))
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        services.delete_integration(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for integration in queryset:
                services.delete_integration(request, integration)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        with transaction.atomic():
            changed = sum(services.set_enabled(request, integration, enabled) for integration in queryset)
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} integration(s) {state}.", messages.SUCCESS)

    @admin.action(description="Enable selected integrations", permissions=["change"])
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected integrations", permissions=["change"])
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "policy_name",
        "stream",
        "integration_name",
        "status",
        "attempts",
        "event_count",
        "sent_at",
    ]
    list_filter = ["status", "stream", "integration", "created_at"]
    search_fields = ["policy_name", "integration_name", "idempotency_key", "last_error"]
    date_hierarchy = "created_at"
    exclude = ["events"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["retry"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(event_total=Count("events"))

    @admin.display(description="Events", ordering="event_total")
    def event_count(self, obj) -> int:
        return obj.event_total

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the delivery log is a record of what was sent

    @admin.action(description="Retry selected failed notifications", permissions=["change"])
    def retry(self, request, queryset):
        count = sum(services.retry(request, n) for n in queryset.filter(status=NotificationStatus.FAILED))
        self.message_user(request, f"{count} notification(s) queued to be sent again.")
