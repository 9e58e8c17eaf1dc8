"""Admin for API tokens and the security event log (read-only), and who may open the Django admin at all."""

from django.contrib import admin

from kcs import tokens
from kcs.models import ApiToken, AuditEntry
from kcs.visibility import visibility_for


def _staff_who_see_everything(request) -> bool:
    """The Django admin's lists are not narrowed to scopes (the screens and the API are): only active staff who hold
    the Global scope may open it. Anyone else gets the admin's own "not authorized" sign-in page."""
    user = request.user
    return user.is_active and user.is_staff and visibility_for(user).holds_global


admin.site.has_permission = _staff_who_see_everything


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_prefix", "created_at", "expires_at", "last_used_at"]
    list_filter = ["created_at", "expires_at"]
    search_fields = ["name", "user__username", "key_prefix"]
    readonly_fields = ["user", "key_prefix", "created_at", "last_used_at"]
    fields = ["name", "user", "key_prefix", "expires_at", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        # A key must be shown to its owner once; that happens on the token page or create_api_token, not here.
        return False

    def save_model(self, request, obj, form, change):
        before = tokens.snapshot(ApiToken.objects.get(pk=obj.pk)) if change else {}
        tokens.change(request, obj, before)

    def delete_model(self, request, obj):
        tokens.revoke(request, obj)

    def delete_queryset(self, request, queryset):
        for token in queryset.select_related("user"):
            tokens.revoke(request, token)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records nobody may add, change or delete by hand (events, the security event log)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "actor_name", "action", "object_type", "object_repr", "source", "ip_address"]
    list_filter = ["action", "object_type", "source", "timestamp"]
    search_fields = ["actor_name", "object_repr", "object_id"]
    date_hierarchy = "timestamp"
