"""App config for the project package, which also holds API tokens and the audit log."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def sync_system_roles(sender, apps=None, **kwargs) -> None:
    """After ``migrate`` (and ``flush``): the system roles exist with their catalog rights, including rights that a
    migration running after the roles' seed created. Runs once, after the last app's permissions were made."""
    from django.apps import apps as global_apps

    from kcs.rights import seed_system_roles

    with_models = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if not with_models or sender.label != with_models[-1].label:
        return
    registry = apps or global_apps
    try:
        registry.get_model("kcs", "Role")
    except LookupError:  # migrated to a point before roles existed
        return
    seed_system_roles(registry)


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
            users,  # noqa: F401  (notes a forced password change at sign-in)
        )
        from kcs.heartbeat import heartbeat_gauges
        from kcs.metrics import scrape_gauge
        from kcs.signin import connect as connect_sign_in_log

        post_migrate.connect(sync_system_roles, dispatch_uid="kcs-sync-system-roles")
        converters.register()
        lookups.register()
        scrape_gauge(heartbeat_gauges)
        connect_sign_in_log()
