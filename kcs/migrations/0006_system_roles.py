"""Seed the system roles (KCS administrator, IS administrator, IS auditor, IS officer, Developer, Scanner) with the
rights of :mod:`kcs.rights`. Today's groups keep their rows and members: Security officer becomes IS officer,
Auditor becomes IS auditor, Scanner stays Scanner (as the SCANNER role). The ``admin`` user that ``make run``
created gets the IS administrator role.

Permissions are normally created after all migrations ran (post_migrate); they are created here first so that the
roles can be given them on a fresh database.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from kcs.rights import seed_system_roles

ADMIN_ROLE = "ISADM"


def seed(apps, schema_editor):
    for label in ("auth", "kcs", "events", "policies", "notifications"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    seed_system_roles(apps)
    User = apps.get_model("auth", "User")
    Role = apps.get_model("kcs", "Role")
    admin = User.objects.filter(username="admin").first()
    if admin is not None:
        admin.groups.add(Role.objects.get(role_id=ADMIN_ROLE).group)


def unseed(apps, schema_editor):
    # Back to the groups of before: the legacy names come back, the roles' profiles go (the groups stay).
    from kcs.rights import LEGACY_GROUPS, SYSTEM_ROLE_IDS

    Group = apps.get_model("auth", "Group")
    for legacy, role_id in LEGACY_GROUPS.items():
        Group.objects.filter(name=SYSTEM_ROLE_IDS[role_id].name).update(name=legacy)
    apps.get_model("kcs", "Role").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("kcs", "0005_roles"),
        ("kcs", "0004_audit_categories"),
        ("events", "0005_risk_acceptance"),
        ("notifications", "0007_notification_claimed_until"),
        ("policies", "0004_silences"),
    ]
    operations = [migrations.RunPython(seed, unseed)]
