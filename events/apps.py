"""App config for security events."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Security events"

    def ready(self) -> None:
        from events import metrics  # noqa: F401  (defines the app's metrics and registers its scrape gauges)
