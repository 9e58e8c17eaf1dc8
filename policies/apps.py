"""App config for response policies and scopes: the top layer, which wires what must see every app."""

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Response policies"

    def ready(self) -> None:
        # Imported here, not at module level: models and signals may only be touched once the app registry is ready.
        from events import panels
        from notifications import integration_users
        from policies import index_cache, metrics, silence_index, warmup  # noqa: F401  (metrics: the app's metrics)
        from policies.event_panel import decision_panel
        from policies.queries import policy_names_using
        from policies.silence_panel import silence_similar_panel

        # The compiled policy index must learn of every configuration change, whoever makes it.
        index_cache.connect_signals()
        silence_index.connect_signals()
        # Each worker process warms up when it starts.
        warmup.connect()
        # Notifications may not import policies, so it asks its integration-users hook who sends through an
        # integration (deleting one in use is refused, naming the policies).
        integration_users.register(policy_names_using)
        # The event page shows why each policy did or did not notify (events may not import policies).
        panels.register(decision_panel)
        # … and offers "Silence similar…" to people who may manage silences.
        panels.register(silence_similar_panel)
