"""App config for notification outputs and the delivery outbox."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import metrics  # noqa: F401  (defines the app's metrics and registers its scrape gauges)
