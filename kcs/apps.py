"""App config for the project package, which also holds API tokens and the audit log."""

from django.apps import AppConfig


class KcsConfig(AppConfig):
    name = "kcs"
    verbose_name = "KCS Response"

    def ready(self) -> None:
        from kcs import checks  # noqa: F401  (registers the system checks)
        from kcs.heartbeat import heartbeat_gauges
        from kcs.metrics import scrape_gauge

        scrape_gauge(heartbeat_gauges)
