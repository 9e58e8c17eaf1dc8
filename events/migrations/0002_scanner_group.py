"""Seed the Scanner group: what a CI job or scanner's user needs to send events and read them back."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Scanner"
PERMISSIONS = ["add_securityevent", "view_securityevent"]


def seed_group(apps, schema_editor):
    app_config = apps.get_app_config("events")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="events", codename__in=PERMISSIONS))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0001_initial"),
    ]
    operations = [migrations.RunPython(seed_group, remove_group)]
