"""App config for the project package, which also holds API tokens and the audit log."""

from django.apps import AppConfig


class KcsConfig(AppConfig):
    name = "kcs"
    verbose_name = "KCS Response"

    def ready(self) -> None:
        # The compiled policy index must learn of every configuration change, whoever makes it.
        from policies.index_cache import connect_signals

        connect_signals()
