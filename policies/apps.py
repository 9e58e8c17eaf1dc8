"""App config for response policies and scopes: the top layer, which wires what must see every app."""

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Response policies"

    def ready(self) -> None:
        # Imported here, not at module level: models and signals may only be touched once the app registry is ready.
        from notifications import integration_users
        from policies import index_cache, metrics, warmup  # noqa: F401  (metrics: defines the app's metrics)
        from policies.queries import policy_names_using

        # The compiled policy index must learn of every configuration change, whoever makes it.
        index_cache.connect_signals()
        # Each worker process warms up when it starts.
        warmup.connect()
        # Notifications may not import policies, so it asks its integration-users hook who sends through an
        # integration (deleting one in use is refused, naming the policies).
        integration_users.register(policy_names_using)
