"""Admin for security events (read-only: events are immutable), their batches, and the images and findings derived
from them."""

from django.contrib import admin

from events.models import EventBatch, Finding, Image, SecurityEvent
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
        "evaluated_at",
    ]
    list_filter = ["type", "severity", "source", "received_at"]
    search_fields = ["title", "finding_id", "repository", "registry", "cluster", "namespace", "uid", "package"]
    date_hierarchy = "received_at"
    list_select_related = False
    show_full_result_count = False  # COUNT(*) over millions of events on every page is not worth it


@admin.register(EventBatch)
class EventBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "received_at", "source", "received", "created", "created_by"]
    list_filter = ["source", "received_at"]
    search_fields = ["id", "created_by__username"]


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    """Derived from the events (events.insight): shown to look at, never edited."""

    list_display = ["__str__", "rating", "critical", "high", "medium", "low", "last_scanned", "last_seen"]
    list_filter = ["rating", "last_scanned"]
    search_fields = ["registry", "repository", "tag", "digest"]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    """Derived from the events (events.insight): shown to look at, never edited."""

    list_display = ["finding_id", "type", "severity", "cvss", "images", "workloads", "first_seen", "last_seen"]
    list_filter = ["type", "severity", "has_fix"]
    search_fields = ["finding_id"]
