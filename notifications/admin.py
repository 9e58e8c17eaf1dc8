"""Django admin for notification outputs and the delivery log.

Integrations are changed through the same per-kind form as the screens (secrets write-only), so the admin applies
the same rules and logs every change in the security event log. The delivery log is read-only, with a Retry action.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from notifications import services
from notifications.channels import CHANNELS
from notifications.models import Notification, NotificationIntegration, NotificationStatus


@admin.register(NotificationIntegration)
class NotificationIntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "last_test_at", "last_test_ok", "updated_at"]
    list_filter = ["kind", "enabled", "last_test_ok"]
    search_fields = ["name"]
    # Settings and secrets are edited on the integration screens (per-kind validation, masked secrets);
    # the admin changes the name and the enabled flag, and can delete.
    fields = ["name", "kind", "enabled", "config", "last_test_at", "last_test_ok", "last_test_message"]
    readonly_fields = ["kind", "config", "last_test_at", "last_test_ok", "last_test_message"]
    actions = ["enable", "disable"]

    def has_add_permission(self, request):
        return False  # added on /integrations/<kind>/add/, where the kind's settings are validated

    def save_model(self, request, obj, form, change):
        stored = NotificationIntegration.objects.get(pk=obj.pk)
        data = {"name": obj.name, "enabled": obj.enabled, **CHANNELS[obj.kind].form_class.data_from_config(obj.config)}
        settings_form = services.form_for(obj.kind, data, instance=stored)
        if settings_form.is_valid():
            services.save_integration(request, obj.kind, settings_form, stored)
        else:
            self.message_user(request, f"Not saved: {settings_form.errors.as_text()}", messages.ERROR)

    def delete_model(self, request, obj):
        try:
            services.delete_integration(request, obj)
        except services.IntegrationInUse as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for integration in queryset:
            self.delete_model(request, integration)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        for integration in queryset:
            services.set_enabled(request, integration, enabled)
        self.message_user(request, f"{queryset.count()} integration(s) {'enabled' if enabled else 'disabled'}.")

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
        "integration_name",
        "status",
        "attempts",
        "event_count",
        "sent_at",
    ]
    list_filter = ["status", "integration", "created_at"]
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
