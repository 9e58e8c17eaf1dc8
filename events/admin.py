"""Admin for security events (read-only: events are immutable) and their batches."""

from django.contrib import admin

from events.models import EventBatch, SecurityEvent
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
