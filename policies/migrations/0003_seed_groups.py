"""Seed the two groups of the product: Security officer (manages policies and scopes) and Auditor (view only).

Permissions are normally created after all migrations ran (post_migrate); they are created here first so that the
groups can be given them on a fresh database.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "policies.view_responsepolicy",
    "policies.view_scope",
    "notifications.view_notificationintegration",
    "events.view_securityevent",
    "notifications.view_notification",
    "kcs.view_auditentry",
]
GROUPS = {
    "Security officer": VIEW
    + [
        "policies.manage_responsepolicy",
        "policies.add_scope",
        "policies.change_scope",
        "policies.delete_scope",
    ],
    "Auditor": VIEW,
}


def seed_groups(apps, schema_editor):
    for label in ("kcs", "events", "policies", "notifications"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("kcs", "0002_config_revision"),
        ("events", "0001_initial"),
        ("notifications", "0002_initial"),
        ("policies", "0002_global_scope"),
    ]
    operations = [migrations.RunPython(seed_groups, remove_groups)]
