"""App config for notification outputs and the delivery outbox."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Imported here, not at module level: models and signals may only be touched once the app registry is ready.
        from events import listeners
        from kcs import audit
        from notifications import metrics, siem  # noqa: F401  (metrics: defines the app's metrics and scrape gauges)

        # SIEM outputs stream the security event log and the stored events: the lower layers call these hooks
        # inside the transactions that write them (kcs and events may not import notifications).
        siem.connect_signals()
        audit.add_listener(siem.on_audit_entries)
        listeners.register(siem.on_events_stored)
