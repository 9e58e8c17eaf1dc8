"""App config for response policies and scopes: the top layer, which wires what must see every app."""

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Response policies"

    def ready(self) -> None:
        # Imported here, not at module level: models and signals may only be touched once the app registry is ready.
        from policies import index_cache, warmup

        index_cache.connect_signals()
        warmup.connect()
