"""App config for the project package, which also holds API tokens and the audit log."""

from django.apps import AppConfig


class KcsConfig(AppConfig):
    name = "kcs"
    verbose_name = "KCS Response"

    def ready(self) -> None:
        # URL patterns of every app use <id:pk> (loaded after this); every id column gets a range-safe __in.
        from kcs import (
            checks,  # noqa: F401  (registers the system checks)
            converters,
            lookups,
            schema,  # noqa: F401  (registers the OpenAPI extensions)
        )
        from kcs.heartbeat import heartbeat_gauges
        from kcs.metrics import scrape_gauge
        from kcs.signin import connect as connect_sign_in_log

        converters.register()
        lookups.register()
        scrape_gauge(heartbeat_gauges)
        connect_sign_in_log()
