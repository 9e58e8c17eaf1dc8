"""Admin for security events (read-only: events are immutable), their batches, and risk acceptances (written
through :mod:`events.acceptances`, with the same rules and security event log entries as the screens and the API)."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from events import acceptances
from events.acceptance_rules import AcceptanceRefused, check_acceptance, check_new_end
from events.models import AcceptanceState, EventBatch, RiskAcceptance, SecurityEvent
from events.permissions import MANAGE_RISKS, VIEW_RISKS
from kcs.admin import ReadOnlyAdmin


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "received_at",
        "severity",
        "type",
        "title",
        "source",
        "finding_id",
        "repository",
        "cluster",
        "namespace",
        "batch_evaluated_at",
    ]
    list_filter = ["type", "severity", "source", "received_at"]
    search_fields = ["title", "finding_id", "repository", "registry", "cluster", "namespace", "uid", "package"]
    date_hierarchy = "received_at"
    list_select_related = ["batch"]  # evaluated_at is the batch's: joined by its primary key
    show_full_result_count = False  # COUNT(*) over millions of events on every page is not worth it

    @admin.display(description="evaluated at", ordering="batch__evaluated_at")
    def batch_evaluated_at(self, event: SecurityEvent):
        return event.batch.evaluated_at


@admin.register(EventBatch)
class EventBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "received_at", "source", "received", "created", "created_by", "evaluated_at"]
    list_filter = ["source", "received_at"]
    search_fields = ["id", "created_by__username"]


ACCEPTANCE_VALUES = ("type", "finding_id", "extent", "registry", "repository", "digest", "tag", "reason")


def _period(expires_at) -> dict:
    return {"expires_at": expires_at} if expires_at else {"unlimited": True}


def _show(form: forms.ModelForm, refused: AcceptanceRefused) -> None:
    for field, field_messages in refused.errors.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


class RiskAcceptanceAdminForm(forms.ModelForm):
    """New acceptances take every field; existing ones only a new end (empty: unlimited)."""

    class Meta:
        model = RiskAcceptance
        fields = (*ACCEPTANCE_VALUES, "expires_at")

    def validate_unique(self):
        # Accepting the same finding and extent again updates the open acceptance (the service does).
        pass

    def clean(self):
        cleaned = super().clean()
        now = timezone.now()
        try:
            if self.instance.pk is None:
                values = {key: cleaned.get(key) for key in ACCEPTANCE_VALUES}
                check_acceptance(values | _period(cleaned.get("expires_at")), now)
            else:
                check_new_end(_period(cleaned.get("expires_at")), now)
        except AcceptanceRefused as refused:
            _show(self, refused)
        return cleaned


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return AcceptanceState.choices

    def queryset(self, request, queryset):
        return queryset.in_state(self.value()) if self.value() in AcceptanceState.values else queryset


@admin.register(RiskAcceptance)
class RiskAcceptanceAdmin(admin.ModelAdmin):
    form = RiskAcceptanceAdminForm
    list_display = [
        "finding_id",
        "type",
        "severity",
        "extent",
        "repository",
        "accepted_by_name",
        "accepted_at",
        "expires_at",
        "state",
    ]
    list_filter = [StateFilter, "type", "extent"]
    search_fields = ["finding_id", "repository", "reason", "accepted_by_name"]
    actions = ["cancel_acceptances"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (*ACCEPTANCE_VALUES, "severity", "accepted_by_name", "accepted_at", "cancelled_by_name", "cancelled_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return (*ACCEPTANCE_VALUES, "expires_at")
        return (*self.get_readonly_fields(request, obj), "expires_at")

    @admin.display(description="state")
    def state(self, obj: RiskAcceptance) -> str:
        return AcceptanceState(obj.state).label

    # One "manage risks" right covers accepting, extending and cancelling, as on the screens and in the API.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_RISKS) or request.user.has_perm(MANAGE_RISKS)

    def has_add_permission(self, request):
        return request.user.has_perm(MANAGE_RISKS)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.state != AcceptanceState.ACTIVE:
            return False  # cancelled and expired acceptances stay as they were
        return request.user.has_perm(MANAGE_RISKS)

    def has_delete_permission(self, request, obj=None):
        return False  # cancelled acceptances stay listed: cancel instead

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def save_model(self, request, obj, form, change):
        period = _period(form.cleaned_data.get("expires_at"))
        if change:
            acceptances.extend(request, obj, period)
            return
        values = {key: form.cleaned_data[key] for key in ACCEPTANCE_VALUES}
        stored, _ = acceptances.accept(request, values | period, obj)
        obj.pk = stored.pk  # the same finding and extent again updated the open acceptance

    @admin.action(description="Cancel selected risk acceptances", permissions=["change"])
    def cancel_acceptances(self, request, queryset):
        cancelled = 0
        with transaction.atomic():
            for acceptance in queryset:
                if acceptance.state == AcceptanceState.ACTIVE:
                    acceptances.cancel(request, acceptance)
                    cancelled += 1
        self.message_user(request, f"{cancelled} risk acceptance(s) cancelled.", messages.SUCCESS)
